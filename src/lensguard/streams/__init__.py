"""The streams room: stream policy and break-glass rules, applied, audited and announced."""
