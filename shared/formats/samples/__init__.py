"""Deterministic sample files in the shared formats (images, point clouds, MP4) for tests and demos.

These writers sit beside the readers they feed: the readers' tests round-trip through them and more
than one use case seeds its demo with them. No function imports them, so no function zip carries them.
"""
