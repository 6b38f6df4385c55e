"""Shared core for the FSx for ONTAP S3 Access Point patterns.

The package is zipped into every Lambda function. It makes no AWS calls at import time: every client
is created lazily, on first use, so a cold start pays only for what a handler really touches.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.3.0"
