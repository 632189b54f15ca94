"""Deployment files rendered from the settings: nginx, firewalls, fail2ban, coturn, systemd.

Each target is one small module with a ``render`` function returning the file's text;
``targets.TARGETS`` names them for the CLI (``lensguard deploy render TARGET``).
"""
