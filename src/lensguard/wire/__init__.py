"""The wire protocol of ``/v1/signal``: message types, fields, limits and close codes.

Defined once here and used by the server's signaling sessions, the relay media node
and the device agent. It imports nothing else of lensguard, so the agent can use it
without pulling in server code (docs/signaling.md shows the catalogue and the table).

- ``kinds``: every message type name.
- ``closes``: the close-code table.
- ``frames``: frame size limit and ``ProtocolError``.
- ``client``: client-to-server messages and ``parse_client_message``.
- ``server``: server-to-client messages, their builders and ``parse_server_message``.
- ``pairing``: the messages server parts exchange on the bus to pair a viewer with a device.
"""
