-- Durable background jobs (storage/jobs.py, jobs/). Postgres is the truth: a job is a row,
-- inserted in the same transaction as the row that needs it, claimed by a worker with
-- SELECT ... FOR UPDATE SKIP LOCKED and held by a lease the worker keeps extending.
--
--   queued  --claim-->  running  --complete-->  done   (pruned after JOB_DONE_RETENTION_HOURS)
--     ^                   |  \--fail, attempts left: queued again at run_at = now() + backoff
--     |                   |  \--fail on the last attempt: dead (kept, with last_error)
--     +---release---------+   (graceful stop: the attempt is not counted)
--   running with lease_expires_at in the past = its worker died: claimed again by another.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'dead')),
    -- Attempts started (counted at claim, given back by a release).
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- NULL until the first claim, which fills in the kind's own limit (jobs.JobKind).
    max_attempts     integer CHECK (max_attempts >= 1),
    -- Not claimed before this time: scheduled jobs and retry backoff.
    run_at           timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    progress_percent real CHECK (progress_percent BETWEEN 0 AND 100),
    progress_message text,
    -- At most one queued or running job per (kind, dedupe_key); done or dead ones do not count.
    dedupe_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((state IN ('done', 'dead')) = (finished_at IS NOT NULL))
);

-- The claim: due queued jobs, oldest first.
CREATE INDEX jobs_queued_idx ON jobs (run_at) WHERE state = 'queued';
-- Leases that ran out (a dead worker's jobs).
CREATE INDEX jobs_running_idx ON jobs (lease_expires_at) WHERE state = 'running';
-- Dead jobs per kind (metrics, inspection) and done jobs by age (pruning).
CREATE INDEX jobs_dead_idx ON jobs (kind, finished_at) WHERE state = 'dead';
CREATE INDEX jobs_done_idx ON jobs (finished_at) WHERE state = 'done';
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');

-- Per-kind bookkeeping that must outlive the job rows:
-- failures: failed attempts ever (exception, timeout, lost lease), for /metrics. A counter in
--   Postgres because workers may run in other processes than the node that is scraped.
-- periodic_slot: the last period slot enqueued for a periodic kind. The dedupe index forgets a
--   slot once its job is done, so a worker starting later in the same period would enqueue it
--   again; advancing this row (a row lock, compared and set in one statement) cannot repeat.
CREATE TABLE job_kinds (
    kind          text PRIMARY KEY,
    failures      bigint NOT NULL DEFAULT 0,
    periodic_slot bigint,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
