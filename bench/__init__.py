"""Benchmarks of platform_kit components (``make bench``); results are JSON, compared as ratios."""
