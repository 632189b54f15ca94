"""Everything lensguard keeps under ``var_dir`` is owner-only: files 0600, directories 0700."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lensguard.app import create_app
from lensguard.audit import AuditEvent
from lensguard.audit.checkpointer import Checkpointer
from lensguard.bootstrap import SECRET_FILE, prepare
from lensguard.demo import CREDENTIAL_FILE, ensure_demo_device
from lensguard.guard.blocklist_file import FileBlocklist
from lensguard.private import (
    ensure_private_file,
    open_private,
    private_dir,
    tighten_tree,
    write_private,
)
from lensguard.services import Services
from lensguard.settings import load_settings
from lensguard.tls import CERT_NAME, KEY_NAME, ensure_certificate
from tests.monitor.receivers import HttpReceiver


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual default umask: without explicit modes, files would be 0644."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def wider_than_private(root: Path) -> list[tuple[str, str]]:
    """Every path under ``root`` (itself included) not 0700 (dirs) or 0600 (files)."""
    found = [(".", oct(mode(root)))] if mode(root) != 0o700 else []
    for parent, dirs, files in os.walk(root):
        for name, wanted in [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files]:
            path = Path(parent, name)
            if mode(path) != wanted:
                found.append((str(path.relative_to(root)), oct(mode(path))))
    return found


async def test_every_file_the_server_writes_is_owner_only(tmp_path: Path, umask_022: None) -> None:
    var_dir = tmp_path / "var"
    async with HttpReceiver() as siem:
        settings = load_settings(
            None,
            mode="dev",
            var_dir=str(var_dir),
            audit={"checkpoint_seconds": 0},
            security={
                "monitoring": {
                    "alerts": {
                        "siem": {
                            "http": {
                                "url": siem.url,
                                "secret": secrets.token_urlsafe(32),
                                "allow_private": True,
                            },
                            "backoff": 0.01,
                            "max_backoff": 0.05,
                        }
                    }
                }
            },
        )
        # What `lensguard serve` does: var_dir, dev secret, SQLite schema, first admin.
        settings, first_admin = await asyncio.to_thread(prepare, settings)
        assert first_admin is not None
        tls = await asyncio.to_thread(ensure_certificate, settings)
        assert tls.generated
        await ensure_demo_device(settings)
        app = create_app(settings)
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="https://testserver") as http,
        ):
            assert (await http.get("/healthz")).status_code == 200
            assert isinstance(services.blocklist, FileBlocklist)
            await services.blocklist.block("198.51.100.7", ttl=600, reason="test")
            async with services.db.transaction() as session:
                await services.audit.append(
                    session, AuditEvent(action="test.entry", outcome="success", actor_type="system")
                )
            export = var_dir / "audit-checkpoints.jsonl"
            checkpointer = Checkpointer(services.audit, services.db, interval=0, export_file=export)
            assert await checkpointer.run_once() is not None
            # While connections are open SQLite's -wal and -shm files exist too.
            assert wider_than_private(var_dir) == []
            written = {p.name for p in var_dir.iterdir()}
    expected = {
        "lensguard.db",
        SECRET_FILE,
        CERT_NAME,
        KEY_NAME,
        CREDENTIAL_FILE,
        "blocklist.jsonl",
        "audit-checkpoints.jsonl",
        "siem-queue.sqlite3",
    }
    assert expected <= written, written
    assert wider_than_private(var_dir) == []


def test_start_up_narrows_what_an_older_version_left_open(tmp_path: Path, umask_022: None) -> None:
    var_dir = tmp_path / "var"
    old = var_dir / "journals"
    old.mkdir(parents=True, mode=0o755)
    var_dir.chmod(0o755)
    (var_dir / "lensguard.db").write_bytes(b"")
    (var_dir / "lensguard.db").chmod(0o644)
    (old / "blocklist.jsonl").write_text("", encoding="utf-8")
    (old / "blocklist.jsonl").chmod(0o664)
    settings = load_settings(None, mode="dev", var_dir=str(var_dir))
    prepare(settings)
    assert wider_than_private(var_dir) == []


def test_tighten_tree_narrows_files_and_dirs_but_not_links(tmp_path: Path) -> None:
    root = tmp_path / "var"
    sub = root / "sub"
    sub.mkdir(parents=True)
    root.chmod(0o755)
    sub.chmod(0o775)
    data = sub / "data.db"
    data.write_bytes(b"x")
    data.chmod(0o644)
    narrow = root / "owner-read-only"
    narrow.write_bytes(b"x")
    narrow.chmod(0o400)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"x")
    outside.chmod(0o644)
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir(mode=0o755)
    outside_dir.chmod(0o755)
    (root / "link").symlink_to(outside)
    (root / "dir-link").symlink_to(outside_dir, target_is_directory=True)

    tighten_tree(root)

    assert (mode(root), mode(sub), mode(data)) == (0o700, 0o700, 0o600)
    assert mode(narrow) == 0o400  # bits are only ever removed
    assert mode(outside) == 0o644  # a link's target is not ours to change
    assert mode(outside_dir) == 0o755


def test_tighten_tree_of_a_missing_root_does_nothing(tmp_path: Path) -> None:
    tighten_tree(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()


@pytest.mark.parametrize(
    ("how", "payload", "expected"),
    [
        ("w", "new", "new"),
        ("a", "more", "oldmore"),
        ("wb", b"new", "new"),
        ("ab", b"more", "oldmore"),
    ],
)
def test_open_private_narrows_an_existing_file(
    tmp_path: Path, umask_022: None, how: str, payload: str | bytes, expected: str
) -> None:
    path = tmp_path / "f"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    with open_private(path, how, encoding=None if "b" in how else "utf-8") as out:
        out.write(payload)
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("how", ["w", "a", "x", "wb", "ab", "xb"])
def test_open_private_creates_owner_only(tmp_path: Path, umask_022: None, how: str) -> None:
    path = tmp_path / "f"
    with open_private(path, how, encoding=None if "b" in how else "utf-8") as out:
        out.write(b"v" if "b" in how else "v")
    assert mode(path) == 0o600
    assert path.read_bytes() == b"v"


def test_open_private_x_refuses_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("keep", encoding="utf-8")
    with pytest.raises(FileExistsError):
        open_private(path, "x")
    assert path.read_text(encoding="utf-8") == "keep"


def test_open_private_can_leave_an_existing_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shipped.jsonl"
    path.write_text("", encoding="utf-8")
    path.chmod(0o644)
    with open_private(path, "a", tighten=False) as out:
        out.write("line\n")
    assert mode(path) == 0o644
    fresh = tmp_path / "fresh.jsonl"
    with open_private(fresh, "a", tighten=False) as out:
        out.write("line\n")
    assert mode(fresh) == 0o600


def test_write_private_ensure_private_file_and_private_dir(tmp_path: Path, umask_022: None) -> None:
    target = private_dir(tmp_path / "var")
    assert mode(target) == 0o700
    key = target / "key.pem"
    write_private(key, b"secret")
    assert (mode(key), key.read_bytes()) == (0o600, b"secret")
    db = target / "x.db"
    ensure_private_file(db)
    assert (mode(db), db.read_bytes()) == (0o600, b"")
    db.write_bytes(b"content")
    db.chmod(0o644)
    ensure_private_file(db)
    assert (mode(db), db.read_bytes()) == (0o600, b"content")
    target.chmod(0o755)
    assert mode(private_dir(target)) == 0o700
