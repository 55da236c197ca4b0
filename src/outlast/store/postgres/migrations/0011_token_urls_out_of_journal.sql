-- Token callback secrets out of the run journal (PostgreSQL).
--
-- A token's callback secret is derived from its id under the project's secret, so the
-- journal no longer keeps a token's URL: it is rebuilt from the id when the journal is
-- read. Journals written before kept the URL with its plain secret; scrub it here.
-- Those older tokens had random secrets, so their URLs cannot be rebuilt: the URLs
-- already handed out keep working (the waitpoint keeps the secret's hash).

UPDATE run_journal SET result = jsonb_set(result::jsonb, '{url}', 'null'::jsonb)::text
    WHERE kind = 'create_token' AND result IS NOT NULL
      AND jsonb_typeof(result::jsonb -> 'url') = 'string';
