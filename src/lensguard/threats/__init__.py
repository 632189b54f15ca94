"""Threat detection over the security-event stream: rules, the anomaly model, responses.

``detection.py`` holds the value every detector produces and the fan-out that hands
detections to the responses and to incident grouping. docs/threats.md is the
security officer's page.
"""
