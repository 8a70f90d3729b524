-- The placeholder author of comments whose account was erased (GDPR) but which other people
-- replied to: the comment is emptied and kept so the thread keeps its shape, and no longer
-- points at the person. Nobody can sign in as it (its password hash is not a hash), and its
-- username is taken here so that no one can register it.
INSERT INTO users (id, username, email, password_hash, display_name, avatar_url, settings)
VALUES ('00000000-0000-0000-0000-000000000000', 'deleted_account', 'deleted@invalid.invalid',
        '!', '[deleted]', '/static/avatars/default.svg',
        '{"notifications": {"email": false, "push": false, "comments": false, "followers": false},
          "privacy": {"profile_visibility": "private", "show_following": false,
                      "show_followers": false}}')
ON CONFLICT DO NOTHING;
