-- Single-use tokens sent by mail: confirm an email address, reset a password.
-- Only a SHA-256 of the token is stored. The token itself is derived from the row id with the
-- server's secret (handlers/accounts/email_tokens.py), so the mail job's payload names the row
-- and never carries a usable token either.
CREATE TABLE email_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    -- The address the mail went to: a verification link confirms this address only, so a
    -- link sent before the account changed its email confirms nothing.
    email       text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose, created_at DESC);
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);
