"""Monitoring: structured security events, metrics and alert sinks."""
