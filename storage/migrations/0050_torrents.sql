-- The torrent app (000): torrent metadata, their files and categories; API keys for ingest.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE categories (
    slug  text PRIMARY KEY CHECK (slug ~ '^[a-z0-9-]{1,30}$'),
    name  text NOT NULL
);
INSERT INTO categories (slug, name) VALUES
    ('movies', 'Movies'), ('tv', 'TV'), ('music', 'Music'), ('games', 'Games'),
    ('software', 'Software'), ('books', 'Books'), ('anime', 'Anime'), ('other', 'Other');

-- Words of a torrent name or path: the separators scene names use become spaces, so that
-- "Big.Buck.Bunny.1080p" is searched as four words.
CREATE FUNCTION torrent_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN regexp_replace(lower($1), '[._\-\[\]()/\\+]+', ' ', 'g');

CREATE TABLE torrents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- BitTorrent v1 info hash, lower-case hex: the natural key ingest upserts by.
    info_hash    text NOT NULL UNIQUE CHECK (info_hash ~ '^[0-9a-f]{40}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    size         bigint NOT NULL CHECK (size >= 0),
    category     text NOT NULL DEFAULT 'other' REFERENCES categories (slug),
    file_count   integer NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    seeders      integer NOT NULL DEFAULT 0 CHECK (seeders >= 0),
    leechers     integer NOT NULL DEFAULT 0 CHECK (leechers >= 0),
    -- When the scraper saw those seeders and leechers; only a newer sighting replaces them.
    seen_at      timestamptz NOT NULL,
    source       text NOT NULL DEFAULT '' CHECK (length(source) <= 100),
    trackers     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(trackers) <= 50),
    published_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- The file paths' words, kept by ingest (bounded), so that search data is one column.
    file_words   text NOT NULL DEFAULT '',
    -- Full-text search data, kept by the database: the name weighs over the file paths.
    search       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', torrent_words(name)), 'A')
        || setweight(to_tsvector('simple', file_words), 'C')) STORED
);
CREATE INDEX torrents_search_idx ON torrents USING gin (search);
-- Typos: trigram similarity of the name's words.
CREATE INDEX torrents_name_trgm_idx ON torrents USING gin (torrent_words(name) gin_trgm_ops);
CREATE INDEX torrents_latest_idx ON torrents (published_at DESC, id DESC);
CREATE INDEX torrents_category_idx ON torrents (category, published_at DESC);
CREATE INDEX torrents_seeders_idx ON torrents (seeders DESC, id);
CREATE INDEX torrents_size_idx ON torrents (size DESC, id);

CREATE TABLE files (
    torrent_id  uuid NOT NULL REFERENCES torrents (id) ON DELETE CASCADE,
    idx         integer NOT NULL CHECK (idx >= 0),
    path        text NOT NULL CHECK (length(path) BETWEEN 1 AND 1000),
    size        bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (torrent_id, idx)
);

-- API keys for machines (the scraper's ingest). Only a SHA-256 of the key is stored; `prefix`
-- (its first characters) lets an operator recognise a key in the list.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL,
    key_hash      text NOT NULL UNIQUE,
    scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['ingest']),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
