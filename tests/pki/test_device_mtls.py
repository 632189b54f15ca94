"""Device mutual TLS on a real listener: own certificate in, anything else out, live revocation.

The server runs in process (uvicorn, real TLS on loopback) with the internal CA; the
device connects with websockets and a client certificate, as the agent does.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage

from lensguard.clock import ManualClock
from lensguard.pki import registry
from lensguard.pki.authority import Authority, init_authority, issue_device
from lensguard.pki.listener import ca_dir
from lensguard.pki.watch import PkiWatch
from lensguard.private import write_private
from lensguard.store.types import utcnow
from lensguard.tls import cert_fingerprint, fingerprint, generate_self_signed
from tests.harness.inprocess import InProcessServer, serve_in_process
from tests.harness.world import Peer

IO_WAIT = 10.0


@dataclass
class Fleet:
    server: InProcessServer
    ca: Authority
    tmp: Path

    @property
    def watch(self) -> PkiWatch:
        watch: PkiWatch = self.server.app.state.pki
        return watch

    async def device(self, name: str) -> tuple[str, str, tuple[Path, Path]]:
        """A registered device, its credential, and its certificate files."""
        device_id, credential = await self.server.device(name, "lab")
        issued = issue_device(self.ca, device_id, name, now=utcnow(), days=30)
        async with self.server.services.db.transaction() as session:
            await registry.record(session, issued, kind="device", device_id=device_id)
        cert, key = self.tmp / f"{name}-cert.pem", self.tmp / f"{name}-key.pem"
        write_private(cert, issued.cert_pem)
        write_private(key, issued.key_pem)
        return device_id, credential, (cert, key)

    def tls(self, files: tuple[Path, Path] | None) -> ssl.SSLContext:
        context = self.server.ssl()
        if files is not None:
            context.load_cert_chain(*files)
        return context

    async def signed_in(self, credential: str, files: tuple[Path, Path] | None) -> Peer:
        peer = Peer(await connect(self.server.ws_url, ssl=self.tls(files)))
        await peer.send({"type": "auth", "token": credential})
        return peer


@asynccontextmanager
async def fleet(
    make_settings: Any, sqlite_url: str, clock: ManualClock, tmp_path: Path, mode: str
) -> AsyncIterator[Fleet]:
    settings = make_settings(database={"url": sqlite_url}, security={"pki": {"device_tls": mode}})
    ca = init_authority(ca_dir(settings), name="test CA", now=utcnow())
    async with serve_in_process(settings, clock) as server:
        await registry.publish_crl(server.services.db, ca, now=utcnow(), days=7)
        yield Fleet(server, ca, tmp_path)


async def test_a_device_gets_in_with_its_own_certificate_and_not_with_another_s(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with fleet(make_settings, sqlite_url, manual_clock, tmp_path, "optional") as f:
        await f.watch.refresh()
        _, credential, files = await f.device("robot-1")
        _, other_credential, _ = await f.device("robot-2")
        own = await f.signed_in(credential, files)
        assert (await own.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "device"
        borrowed = await f.signed_in(other_credential, files)
        assert await borrowed.closed_with(wait=IO_WAIT) == 4401
        assert borrowed.ws.close_reason == "the client certificate names another device"
        # Optional: a device with no certificate is still let in.
        bare = await f.signed_in(other_credential, None)
        assert (await bare.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "device"
        await own.ws.close()
        await bare.ws.close()


async def test_required_mode_refuses_a_device_without_a_certificate_but_not_a_person(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with fleet(make_settings, sqlite_url, manual_clock, tmp_path, "required") as f:
        _, credential, files = await f.device("robot-1")
        bare = await f.signed_in(credential, None)
        assert await bare.closed_with(wait=IO_WAIT) == 4401
        assert "must present their client certificate" in (bare.ws.close_reason or "")
        # The token exchange over HTTPS asks the same of the connection.
        async with httpx.AsyncClient(base_url=f.server.base_url, verify=f.tls(None)) as bare_http:
            refused = await bare_http.post(
                "/api/v1/auth/device-token", headers={"Authorization": f"Bearer {credential}"}
            )
        assert refused.status_code == 401
        assert "must present their client certificate" in refused.json()["detail"]
        async with httpx.AsyncClient(base_url=f.server.base_url, verify=f.tls(files)) as http:
            issued = await http.post(
                "/api/v1/auth/device-token", headers={"Authorization": f"Bearer {credential}"}
            )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        with_token = await f.signed_in(token, files)
        assert (await with_token.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "device"
        await with_token.ws.close()
        await f.server.user("ada", "viewer")
        person = await f.signed_in(await f.server.login("ada"), None)
        assert (await person.recv("ready", wait=IO_WAIT))["principal"]["kind"] == "user"
        await person.ws.close()


async def test_revoking_closes_the_open_socket_and_fails_the_next_handshake(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with fleet(make_settings, sqlite_url, manual_clock, tmp_path, "required") as f:
        await f.watch.refresh()
        device_id, credential, files = await f.device("robot-1")
        live = await f.signed_in(credential, files)
        await live.recv("ready", wait=IO_WAIT)
        serial = (await registry.listing(f.server.services.db))[0].serial
        async with f.server.services.db.transaction() as session:
            await registry.revoke(session, serial, reason="key_compromise", at=utcnow())
        await registry.publish_crl(f.server.services.db, f.ca, now=utcnow(), days=7)
        number = await f.watch.refresh()  # what the schedule does every crl_refresh_seconds
        assert number == f.watch.crl_number == 2
        assert await live.closed_with(wait=IO_WAIT) == 4401
        assert live.ws.close_reason == "the client certificate is revoked"
        # The handshake itself now fails: OpenSSL checks the loaded list (with TLS 1.3
        # the client learns of it when the server drops the connection, before HTTP).
        with pytest.raises((InvalidMessage, ssl.SSLError, ConnectionError)):
            await connect(f.server.ws_url, ssl=f.tls(files))
        # Another device's valid certificate still gets in: only the one serial is out.
        _, other, other_files = await f.device("robot-2")
        fine = await f.signed_in(other, other_files)
        assert (await fine.recv("ready", wait=IO_WAIT))["principal"]["id"] != device_id
        await fine.ws.close()


async def test_sighup_rotates_the_served_certificate_and_open_sockets_survive(
    make_settings: Any, sqlite_url: str, manual_clock: ManualClock, tmp_path: Path
) -> None:
    async with fleet(make_settings, sqlite_url, manual_clock, tmp_path, "optional") as f:
        _, credential, files = await f.device("robot-1")
        before = await f.signed_in(credential, files)
        await before.recv("ready", wait=IO_WAIT)
        cert_path = f.server.cert_path
        old = fingerprint(cert_path)
        generate_self_signed(cert_path, cert_path.with_name("tls-key.pem"), hostnames=["127.0.0.1"])
        watch, live = f.watch, f.server.app.state.live_tls
        reloads = live.reloads
        watch.listen_for_sighup()  # as `lensguard serve` does; the harness leaves it off
        try:
            signal.raise_signal(signal.SIGHUP)
            while live.reloads == reloads:
                await asyncio.sleep(0)  # the handler's task runs on this loop
        finally:
            watch.stop_listening()
        after = Peer(await connect(f.server.ws_url, ssl=f.tls(files)))
        served = after.ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert served is not None and fingerprint_der(served) != old
        assert fingerprint_der(served) == fingerprint(cert_path)
        # The socket opened before the reload still answers.
        await before.send({"type": "publish"})
        assert (await before.recv("published", wait=IO_WAIT))["device_id"]
        await after.ws.close()
        await before.ws.close()


def fingerprint_der(der: bytes) -> str:
    return cert_fingerprint(x509.load_der_x509_certificate(der))
