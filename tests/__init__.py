"""Test suite; it mirrors the source tree."""
