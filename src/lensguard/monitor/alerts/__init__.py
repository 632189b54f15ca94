"""Alert sinks and the durable SIEM forwarder for security events.

Kept free of imports on purpose: ``lensguard.settings`` imports ``alerts.config``,
and anything imported here would run (and could import settings back) first.
"""
