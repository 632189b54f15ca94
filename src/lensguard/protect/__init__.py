"""Data protection: key derivation, envelope encryption, crypto-shredding."""
