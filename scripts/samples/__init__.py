"""Sample data writers: point clouds in every supported format and small MP4 files, for tests and demos."""
