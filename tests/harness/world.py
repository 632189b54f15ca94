"""A real server with accounts and devices, and WebSocket peers speaking /v1/signal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lensguard.access.policy import load_policy
from tests.harness.server import LiveServer, start_server

ADMIN_PASSWORD = "signaling root passphrase 1"
INITIAL_PASSWORD = "an initial passphrase for tests 3"
PASSWORD = "a user passphrase for tests 2"
POLICY = load_policy()


@dataclass
class World:
    """A running server with an admin token and helpers to populate it."""

    server: LiveServer
    admin: str

    def http(self) -> httpx.Client:
        return self.server.client()

    def user(self, name: str, role: str, sites: list[str] | None = None) -> str:
        """Create an account as an admin would, sign in, and do the forced password change."""
        with self.http() as client:
            if POLICY.grants(role) <= POLICY.grants("admin"):
                created = client.post(
                    "/api/v1/users",
                    headers=auth(self.admin),
                    json={
                        "username": name,
                        "password": INITIAL_PASSWORD,
                        "role": role,
                        "sites": sites or ["*"],
                    },
                )
                created.raise_for_status()
            else:
                # Roles an admin cannot hand out (break-glass) come from the server's shell.
                user_id = self._create_from_shell(client, name, role)
                if sites:
                    client.patch(
                        f"/api/v1/users/{user_id}", headers=auth(self.admin), json={"sites": sites}
                    ).raise_for_status()
            first = client.post(
                "/api/v1/auth/login", json={"username": name, "password": INITIAL_PASSWORD}
            )
            first.raise_for_status()
            client.post(
                "/api/v1/auth/password",
                headers=auth(first.json()["access_token"]),
                json={"current_password": INITIAL_PASSWORD, "new_password": PASSWORD},
            ).raise_for_status()
            tokens = client.post(
                "/api/v1/auth/login", json={"username": name, "password": PASSWORD}
            )
            tokens.raise_for_status()
            return str(tokens.json()["access_token"])

    def _create_from_shell(self, client: httpx.Client, name: str, role: str) -> str:
        workdir = self.server.stdout_path.parent
        env = {k: v for k, v in os.environ.items() if not k.startswith("LENSGUARD_")}
        env.update(self.server.env)  # the shell appends to the same audit chain: same secret
        config = str(workdir / "lensguard.yaml")
        command = ["admin", "create", name, "--role", role, "--password-stdin"]
        done = subprocess.run(
            [sys.executable, "-m", "lensguard", "-c", config, *command],
            input=INITIAL_PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=workdir,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        url: str | None = "/api/v1/users?limit=200"
        while url is not None:  # the list pages: follow Link rel="next"
            listed = client.get(url, headers=auth(self.admin))
            listed.raise_for_status()
            for user in listed.json():
                if user["username"] == name:
                    return str(user["id"])
            link = listed.headers.get("link")
            url = link[1 : link.index(">")] if link else None
        raise LookupError(f"{name} was created but is not listed")

    def device(
        self, name: str, site: str, capabilities: tuple[str, ...] = ("video", "control")
    ) -> tuple[str, str]:
        """Register a device; returns (device id, credential)."""
        with self.http() as client:
            created = client.post(
                "/api/v1/devices",
                headers=auth(self.admin),
                json={
                    "name": name,
                    "site": site,
                    "kind": "robot" if "control" in capabilities else "camera",
                    "capabilities": list(capabilities),
                },
            )
            created.raise_for_status()
            body = created.json()
            return str(body["device"]["id"]), str(body["credential"])

    @property
    def ws_url(self) -> str:
        return self.server.base_url.replace("https://", "wss://") + "/v1/signal"

    def ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.server.cert_path))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bootstrap_admin(server: LiveServer) -> str:
    match = re.search(r"Username: (\S+)\s+one-time password: (\S+)", server.output())
    assert match is not None
    username, password = match.groups()
    with server.client() as client:
        first = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        client.post(
            "/api/v1/auth/password",
            headers=auth(first.json()["access_token"]),
            json={"current_password": password, "new_password": ADMIN_PASSWORD},
        ).raise_for_status()
        again = client.post(
            "/api/v1/auth/login", json={"username": username, "password": ADMIN_PASSWORD}
        )
        return str(again.json()["access_token"])


def world_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Body of the module-scoped ``world`` fixture (tests/conftest.py)."""
    server = start_server(
        tmp_path_factory.mktemp("signal"),
        {"signaling": {"auth_timeout": 1.0}, "limits": {"requests_per_minute": 100_000}},
    )
    try:
        yield World(server, bootstrap_admin(server))
    finally:
        server.stop()


class Peer:
    """One client socket with helpers to send and await typed messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.id = ""

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, kind: str | None = None, wait: float = 5.0) -> dict[str, Any]:
        """The next message (of ``kind``, skipping others)."""

        async def next_of_kind() -> dict[str, Any]:
            while True:
                message: dict[str, Any] = json.loads(await self.ws.recv())
                if kind is None or message.get("type") == kind:
                    return message

        return await asyncio.wait_for(next_of_kind(), wait)

    async def closed_with(self, wait: float = 5.0) -> int | None:
        """Wait for the server to close the socket; the close code."""

        async def drain() -> None:
            while True:
                await self.ws.recv()

        try:
            await asyncio.wait_for(drain(), wait)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return None


async def open_peer(world: World, token: str | None, **kwargs: Any) -> Peer:
    ws = await connect(world.ws_url, ssl=world.ssl(), **kwargs)
    peer = Peer(ws)
    if token is not None:
        await peer.send({"type": "auth", "token": token})
        ready = await peer.recv("ready")
        peer.id = ready["id"]
    return peer


def tmp_world(path: Path, config: dict[str, Any]) -> World:
    server = start_server(path, config)
    return World(server, bootstrap_admin(server))
