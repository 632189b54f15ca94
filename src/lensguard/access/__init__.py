"""Access control: actions, the policy and the one ``can()`` that decides."""
