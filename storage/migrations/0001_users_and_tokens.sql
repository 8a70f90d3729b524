-- Users for all five contracts.
-- CLUTCH's user document is the model. Roles are CLUTCH's user|creator|admin; OpenCourse's
-- student|instructor|administrator map onto them (student=user, instructor=creator,
-- administrator=admin) and OnStream's is_admin is role = 'admin'.
CREATE TABLE users (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username             text NOT NULL CHECK (username ~ '^[A-Za-z0-9_]{3,30}$'),
    email                text NOT NULL CHECK (length(email) <= 254),
    password_hash        text NOT NULL,
    display_name         text NOT NULL DEFAULT '' CHECK (length(display_name) <= 50),
    avatar_url           text NOT NULL DEFAULT '',
    bio                  text NOT NULL DEFAULT '' CHECK (length(bio) <= 500),
    verified             boolean NOT NULL DEFAULT false,
    role                 text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'creator', 'admin')),
    follower_count       bigint NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
    following_count      bigint NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    total_views          bigint NOT NULL DEFAULT 0 CHECK (total_views >= 0),
    total_videos         bigint NOT NULL DEFAULT 0 CHECK (total_videos >= 0),
    total_likes_received bigint NOT NULL DEFAULT 0 CHECK (total_likes_received >= 0),
    settings             jsonb NOT NULL DEFAULT '{
        "notifications": {"email": true, "push": true, "comments": true, "followers": true},
        "privacy": {"profile_visibility": "public", "show_following": true, "show_followers": true}
    }'::jsonb,
    email_verified       boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    last_login           timestamptz
);

-- Usernames and emails are unique regardless of case: "Alice" and "alice" are one account.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role) WHERE role <> 'user';

-- Refresh tokens: stored hashed, one row per issued token, grouped in families.
-- A token is used once (rotated_at set); presenting a rotated token again revokes its family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
