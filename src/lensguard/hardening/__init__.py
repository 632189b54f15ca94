"""``lensguard security audit``: checks of a deployment, each mapped to OWASP ASVS 5.0."""
