-- View-count batches already applied from the Redis buffer (counters.views).
-- A batch is applied and recorded here in one transaction, so a batch retried after a node
-- died between "applied" and "removed from Redis" is recognised and not counted twice.
-- Rows older than a day are pruned by the flusher: a batch is retried within seconds.
CREATE TABLE view_flush_batches (
    batch_id   text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX view_flush_batches_applied_idx ON view_flush_batches (applied_at);
