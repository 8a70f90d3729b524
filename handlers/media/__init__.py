"""The media pipeline (issue 10): presigned uploads, completion, transcoding, the webhook."""
