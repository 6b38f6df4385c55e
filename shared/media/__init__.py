"""Media containers: metadata probes that read box headers, never the media data."""

from __future__ import annotations

from shared.media.mp4 import MediaError, VideoInfo, probe, probe_bytes, sample_times

__all__ = ["MediaError", "VideoInfo", "probe", "probe_bytes", "sample_times"]
