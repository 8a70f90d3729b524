-- Users whose profile is not public (profile_visibility `followers` or `private`): the only
-- ones a follower or following list may hide from a viewer (storage.social.follows.list_side).
-- Counting the entries hidden from a viewer then starts from these few users and probes the
-- follows index for each, instead of walking every follower of a popular account.
CREATE INDEX users_profile_not_public_idx ON users (id)
    WHERE coalesce(settings #>> '{privacy,profile_visibility}', 'public') <> 'public';

-- Without statistics on the expression the planner guesses that almost every user matches it
-- (the default selectivity of `<>`) and walks the follows instead: 31 ms instead of 0.5 ms for
-- 20,000 followers and 59 non-public users, measured with EXPLAIN ANALYZE.
CREATE STATISTICS users_profile_visibility_stats
    ON (coalesce(settings #>> '{privacy,profile_visibility}', 'public')) FROM users;
