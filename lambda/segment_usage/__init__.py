"""segment-usage: Segment messages as per-user usage and identify traits, recorded exactly once."""

__version__ = "0.2.0"  # = modules/segment-usage/VERSION (tools/release.py checks it)
