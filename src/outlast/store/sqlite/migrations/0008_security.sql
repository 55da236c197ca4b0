-- Secrets at rest and dashboard sessions that end on logout (SQLite).
--
-- A token's callback secret is kept as its SHA-256 (hex), like API keys: the URL is shown
-- when the token is made and cannot be read back. Existing secrets are hashed here by
-- outlast_sha256, a function every connection of the store registers, so no plain
-- secret stays behind and the URLs already handed out keep working.

ALTER TABLE waitpoints ADD COLUMN secret_hash TEXT;
UPDATE waitpoints SET secret_hash = outlast_sha256(secret) WHERE secret IS NOT NULL;
ALTER TABLE waitpoints DROP COLUMN secret;

-- A dashboard session is a row: its cookie names the row, logout deletes it, so a copy
-- of the cookie stops working too.
CREATE TABLE dashboard_sessions (
    id           TEXT PRIMARY KEY,
    environment  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL
);

CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
