"""SQL of the media pipeline: uploads (migration 0060) and the processing state of videos."""
