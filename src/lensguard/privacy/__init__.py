"""Data classification as code: every stored column's class, purpose and retention."""
