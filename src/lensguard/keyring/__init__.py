"""Keys that outlive a master secret: stored wrapped under it, moved when it rotates."""
