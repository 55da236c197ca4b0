-- Token callback secrets out of the run journal (SQLite).
--
-- A token's callback secret is derived from its id under the project's secret, so the
-- journal no longer keeps a token's URL: it is rebuilt from the id when the journal is
-- read. Journals written before kept the URL with its plain secret; scrub it here.
-- Those older tokens had random secrets, so their URLs cannot be rebuilt: the URLs
-- already handed out keep working (the waitpoint keeps the secret's hash).

UPDATE run_journal SET result = json_set(result, '$.url', json('null'))
    WHERE kind = 'create_token' AND json_valid(result)
      AND json_type(result, '$.url') = 'text';
