-- Videos: CLUTCH's "Videos Collection" and its "Critical Indexes", in Postgres terms.
--
-- Lists only ever show public, ready videos, so the list indexes are partial on exactly that
-- predicate: each sort (latest, popular, trending) is an index scan that stops after the page.

-- Trending score, maintained on every write that counts as engagement (no periodic recompute):
--
--     trending_score = ln( sum_i  weight_i * 2 ^ (t_i / 24 h) )
--
-- over every event i (publish = 1, view = 1, like = 3, comment = 5) at time t_i. Ordering by
-- it is the same as ordering by  sum_i weight_i * 2 ^ (-(now - t_i) / 24 h)  -- engagement with
-- a 24-hour half-life -- because the common factor 2 ^ (now / 24 h) cancels. So a score written
-- once never needs refreshing, an old video's score stops growing and is overtaken by new
-- activity, and the log keeps the number finite forever. Bumps use log-sum-exp so a single
-- UPDATE adds an event atomically. Changing the half-life needs a new migration that recomputes.
CREATE FUNCTION trending_bump(score double precision, weight double precision, at timestamptz)
RETURNS double precision LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN weight <= 0 THEN score
        WHEN score IS NULL THEN event.e
        -- exp() of a large negative number raises "underflow" in Postgres instead of giving 0
        WHEN abs(score - event.e) > 40 THEN greatest(score, event.e)
        ELSE greatest(score, event.e) + ln(1 + exp(-abs(score - event.e)))
    END
    FROM (SELECT ln(weight) + extract(epoch FROM at)::double precision / (86400 / ln(2)) AS e) AS event
$$;

CREATE TABLE videos (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    description        text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    thumbnail_url      text NOT NULL DEFAULT '',
    video_url          text NOT NULL DEFAULT '',
    duration           integer NOT NULL DEFAULT 0 CHECK (duration >= 0),
    view_count         bigint NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    like_count         bigint NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    dislike_count      bigint NOT NULL DEFAULT 0 CHECK (dislike_count >= 0),
    comment_count      bigint NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    tags               text[] NOT NULL DEFAULT '{}',
    category           text NOT NULL DEFAULT '',
    visibility         text NOT NULL DEFAULT 'public'
                       CHECK (visibility IN ('public', 'unlisted', 'private')),
    processing_status  text NOT NULL DEFAULT 'uploaded'
                       CHECK (processing_status IN ('uploaded', 'processing', 'ready', 'error')),
    quality_variants   jsonb NOT NULL DEFAULT '{}'::jsonb,
    watch_time_seconds double precision NOT NULL DEFAULT 0 CHECK (watch_time_seconds >= 0),
    retention_curve    jsonb NOT NULL DEFAULT '[]'::jsonb,
    trending_score     double precision NOT NULL DEFAULT 0,
    published_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    search             tsvector GENERATED ALWAYS AS (
                           setweight(to_tsvector('english', title), 'A')
                           || setweight(to_tsvector('english', description), 'B')
                       ) STORED
);

CREATE INDEX videos_author_published_idx ON videos (author_id, published_at DESC);
CREATE INDEX videos_listed_latest_idx ON videos (published_at DESC, id DESC)
    WHERE visibility = 'public' AND processing_status = 'ready';
CREATE INDEX videos_listed_popular_idx ON videos (view_count DESC, id DESC)
    WHERE visibility = 'public' AND processing_status = 'ready';
CREATE INDEX videos_listed_trending_idx ON videos (trending_score DESC, id DESC)
    WHERE visibility = 'public' AND processing_status = 'ready';
CREATE INDEX videos_category_published_idx ON videos (category, published_at DESC)
    WHERE visibility = 'public' AND processing_status = 'ready';
CREATE INDEX videos_tags_idx ON videos USING gin (tags);
CREATE INDEX videos_search_idx ON videos USING gin (search);
CREATE INDEX videos_processing_status_idx ON videos (processing_status)
    WHERE processing_status <> 'ready';
