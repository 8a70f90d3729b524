-- OnStream (issue 11): what users touch is kept in Postgres, with the title's metadata as the
-- catalogue cache had it, so favorites and history never wait on TMDb. The catalogue itself
-- (lists, details, search, streams) lives in the Redis cache only.
CREATE TABLE catalogue_titles (
    media_type     text NOT NULL CHECK (media_type IN ('movie', 'tv')),
    tmdb_id        integer NOT NULL CHECK (tmdb_id > 0),
    title          text NOT NULL,
    overview       text NOT NULL DEFAULT '',
    poster_path    text,
    backdrop_path  text,
    release_date   text,
    genres         text[] NOT NULL DEFAULT '{}',
    vote_average   real NOT NULL DEFAULT 0,
    runtime        integer,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_type, tmdb_id)
);

-- One row per user and title: adding a favorite twice is one favorite.
CREATE TABLE favorites (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_type  text NOT NULL,
    tmdb_id     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_type, tmdb_id),
    FOREIGN KEY (media_type, tmdb_id) REFERENCES catalogue_titles (media_type, tmdb_id)
);
CREATE INDEX favorites_user_recent_idx ON favorites (user_id, created_at DESC, tmdb_id);

-- One row per user and title, updated in place: `watched_at` moves with each report.
CREATE TABLE watch_history (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    media_type        text NOT NULL,
    tmdb_id           integer NOT NULL,
    progress_seconds  double precision NOT NULL CHECK (progress_seconds >= 0),
    runtime_seconds   double precision NOT NULL CHECK (runtime_seconds > 0),
    watched_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_type, tmdb_id),
    FOREIGN KEY (media_type, tmdb_id) REFERENCES catalogue_titles (media_type, tmdb_id),
    CHECK (progress_seconds <= runtime_seconds)
);
CREATE INDEX watch_history_user_recent_idx ON watch_history (user_id, watched_at DESC, tmdb_id);
