"""Tooling: the use-case catalog, packaging and deploy, and the embedded local cloud."""
