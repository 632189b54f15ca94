"""Identity: passwords, tokens, API keys, sessions and revocation."""
