"""Deterministic sample data for tests, demos and benchmarks: point clouds, MP4 files and images."""
