"""lensguard: self-hosted, security-first live video for robots and cameras."""

__version__ = "0.1.0"
