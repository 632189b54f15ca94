"""The message bus: in-process (embedded) or Redis pub/sub (cluster)."""
