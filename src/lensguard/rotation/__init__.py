"""``lensguard secret rotate``: move every stored secret to a new master secret."""
