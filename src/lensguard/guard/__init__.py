"""Request guards: headers, size and type limits, rate limits, client addresses."""
