"""Incidents: detections grouped by source and principal, their states, timelines and playbooks.

docs/threats.md (*Running an incident*) is the security officer's page.
"""
