"""The relationship agent: mail and calendar metadata in, a digest of fading ties out."""

__version__ = "0.1.0"
