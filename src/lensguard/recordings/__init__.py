"""Recordings: encrypted segments, their keys, their stores and their chained index."""
