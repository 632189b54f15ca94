"""Signaling: one authenticated WebSocket per client, every message checked by can()."""
