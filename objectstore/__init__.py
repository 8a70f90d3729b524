"""Object storage: the interface the media pipeline needs, and its S3 implementation.

A layer of its own beside `storage/` (which speaks SQL only): it imports no domain, no SQL
and no HTTP kit (`make lint` checks it). Bytes of uploads never pass through the node: the
node signs URLs and asks the store about objects; clients and workers move the bytes.
"""
