-- Live streams (issue 4): whether a video is broadcasting live, set by its author over REST.
-- Kept beside `videos` rather than in it: a video has no row here until it first goes live.
CREATE TABLE live_streams (
    video_id   uuid PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    status     text NOT NULL CHECK (status IN ('live', 'offline')),
    started_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'live') = (started_at IS NOT NULL))
);

CREATE INDEX live_streams_live_idx ON live_streams (started_at DESC) WHERE status = 'live';
