"""The bus channels every node listens to (per-connection channels are ``conn:<id>``)."""

REVOCATIONS = "revocations"
"""A session, user, device or API key lost access: live sockets re-check or close."""
STREAM_CONFIG = "stream-config"
"""A device's stream settings or a site's policy changed: relays reload their rules."""
OVERRIDES = "redaction-overrides"
"""A break-glass grant ended early: its viewers go back to the redacted picture."""
CONTROL_HOLDERS = "control-holders"
"""A device's control lock changed hands (``control_holder``) or a camera was moved
(``camera_pose``): its watchers on every node are told."""
