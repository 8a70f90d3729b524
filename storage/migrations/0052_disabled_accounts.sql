-- An admin can disable an account: it cannot sign in or refresh until enabled again.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
