-- The media pipeline (issue 10): uploads straight to object storage, then transcoding.
--
--   request  -> media_uploads row 'pending' (+ the video row in 'uploaded', not listed)
--   complete -> HEAD verified: 'completed', and in the same transaction the job enqueued:
--               `media.transcode` for a video (it stays 'uploaded' until a worker takes
--               it), `media.thumbnail` for an image (decoded, then published or 'rejected')
--   never completed -> deleted after expires_at (+ grace) by `media.expire_uploads`, with its
--               object and, for a video nothing else was uploaded for, the video row.
--
-- Object metadata is kept here, not in the store (the embedded store forgets it on restart).
CREATE TABLE media_uploads (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id            uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    owner_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('video', 'thumbnail')),
    object_key          text NOT NULL UNIQUE,
    filename            text NOT NULL DEFAULT '',
    content_type        text NOT NULL,
    file_size           bigint NOT NULL CHECK (file_size > 0),
    -- S3's UploadId of a multipart upload; NULL for a single presigned PUT.
    multipart_upload_id text,
    -- rejected: a completed thumbnail that was not the image it claimed (see `error`).
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'completed', 'rejected')),
    error               text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz
);

CREATE INDEX media_uploads_pending_idx ON media_uploads (expires_at) WHERE state = 'pending';
CREATE INDEX media_uploads_video_idx ON media_uploads (video_id);

-- Why processing ended in 'error' (empty otherwise), for the author and the events.
ALTER TABLE videos ADD COLUMN processing_error text NOT NULL DEFAULT ''
    CHECK (length(processing_error) <= 1000);

-- Webhook deliveries seen (by the digest of their signature), kept a little longer than the
-- timestamp tolerance: a replay inside the window is recognised, one outside it is stale.
CREATE TABLE media_webhook_deliveries (
    digest      text PRIMARY KEY,
    video_id    uuid NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_webhook_deliveries_received_idx ON media_webhook_deliveries (received_at);

-- A deleted video's objects (its source, results and thumbnails) are deleted from the store
-- by the periodic `media.expire_uploads`: the trigger records the video in the same
-- transaction as the delete, so no deletion path (the API, an admin, a cascade from its
-- author) can leave objects behind unnoticed.
CREATE TABLE media_deleted_videos (
    video_id   uuid PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION media_video_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_deleted_videos (video_id) VALUES (OLD.id) ON CONFLICT DO NOTHING;
    RETURN OLD;
END
$$;

CREATE TRIGGER videos_media_deleted AFTER DELETE ON videos
    FOR EACH ROW EXECUTE FUNCTION media_video_deleted();
