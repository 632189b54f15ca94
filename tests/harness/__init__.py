"""Test harness: real PostgreSQL, Redis and lensguard servers for the suite."""
