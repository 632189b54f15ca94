"""The internal certificate authority: server and device certificates, revocation, live TLS.

``authority`` makes and signs (pure cryptography on files), ``registry`` keeps what was
issued and the revocation lists in the database, ``live_tls`` serves them (a TLS context
rebuilt on SIGHUP or a new list without dropping connections), ``peer`` hands the
client certificate of a WebSocket to the app, and ``watch`` refreshes the list and
raises expiry alerts on the app's clock. docs/secure.md is the operator's guide.
"""
