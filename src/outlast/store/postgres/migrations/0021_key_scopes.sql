-- API keys scoped to reading or triggering, besides full keys (core/key_scopes.py).
-- Keys made before scopes existed keep doing everything.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full'
    CHECK (scope IN ('full', 'read', 'trigger'));
