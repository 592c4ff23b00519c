"""segment-usage: Segment messages as per-user usage and identify traits, recorded exactly once."""

__version__ = "0.1.0"
