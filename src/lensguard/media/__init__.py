"""Media: TURN credentials, the relay media node and encoded-frame fan-out."""
