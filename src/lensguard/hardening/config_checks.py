"""Checks of the settings and of the files and process around them (no network, no DB)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from lensguard.hardening.findings import Check, Finding
from lensguard.settings import Mode, Settings, weakness
from lensguard.severity import Severity

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names to compare with  # nosec B104
MAX_FILES = 10_000  # the var_dir walk stops here; a var_dir holds far fewer files
SHOWN = 5

MODE = Check(
    "CFG-MODE",
    "Production mode",
    Severity.HIGH,
    "set `mode: production` (dev mode generates secrets and accepts unverified TLS)",
    "V13.4.2",
)
MASTER = Check(
    "SEC-MASTER",
    "Master secret set and strong",
    Severity.CRITICAL,
    "generate one with `lensguard secret generate` and set LENSGUARD_SECRET_KEY",
    "V13.3.1",
)
TURN_SECRET = Check(
    "SEC-TURN",
    "TURN shared secret strong",
    Severity.HIGH,
    "set turn.static_auth_secret to the output of `lensguard secret generate`",
    "V13.3.1",
)
VAR_FILES = Check(
    "SEC-FILES",
    "Files under var_dir readable by the owner only",
    Severity.HIGH,
    "chmod 0700 the var_dir and 0600 every file in it (`chmod -R go-rwx var`)",
    "V13.3.2",
)
CONFIG_FILE = Check(
    "SEC-CONFIG",
    "Configuration file holding secrets readable by the owner only",
    Severity.HIGH,
    "chmod 0600 the configuration file, or move secrets into the environment",
    "V13.3.2",
)
DB_TLS = Check(
    "NET-DB-TLS",
    "TLS to PostgreSQL",
    Severity.HIGH,
    "set database.tls.enabled with ca_file (verify-full) for a database on another host",
    "V12.3.1",
)
REDIS_TLS = Check(
    "NET-REDIS-TLS",
    "TLS to Redis",
    Severity.HIGH,
    "set redis.tls.enabled with ca_file (verify-full) for a Redis on another host",
    "V12.3.1",
)
ROOT = Check(
    "PROC-ROOT",
    "Not running as root",
    Severity.HIGH,
    "run as its own unprivileged user (`lensguard deploy render systemd` has one)",
    "V13.3.2",
)
BIND = Check(
    "PROC-BIND",
    "Listens on loopback behind the reverse proxy",
    Severity.MEDIUM,
    "set server.host to 127.0.0.1 and publish through nginx (`lensguard deploy render nginx`)",
    "V13.1.1",
)
DEBUG = Check(
    "PROC-DEBUG",
    "No debug output",
    Severity.MEDIUM,
    "set security.monitoring.log_level to INFO and database.echo to false",
    "V13.4.2",
)
TURN_PEERS = Check(
    "TURN-RESERVED",
    "Media may not reach reserved address ranges",
    Severity.MEDIUM,
    "empty media.ice.allow_remote_addresses unless a LAN really needs it; keep coturn's "
    "denied-peer-ip lines (`lensguard deploy render coturn`)",
    "V12.3.1",
)


@dataclass(frozen=True)
class Host:
    """What the process and its files look like; read from this machine by default."""

    euid: int
    config_file: Path | None = None

    @classmethod
    def here(cls, config_file: Path | None) -> Host:
        return cls(os.geteuid(), config_file)


def check_config(settings: Settings, host: Host) -> list[Finding]:
    """Every check that needs only the settings, the files they name and this process."""
    return [
        MODE.verdict(settings.mode is Mode.PRODUCTION, f"mode is {settings.mode.value}"),
        _master(settings),
        _turn_secret(settings),
        _var_files(settings.var_dir),
        _config_file(host.config_file),
        _database_tls(settings),
        _redis_tls(settings),
        ROOT.verdict(host.euid != 0, f"effective user id {host.euid}"),
        _bind(settings),
        _debug(settings),
        _turn_peers(settings),
    ]


def _master(settings: Settings) -> Finding:
    if settings.secret_key is None:
        dev = " (dev mode makes one in var_dir)" if settings.mode is Mode.DEV else ""
        return MASTER.verdict(False, f"secret_key is not set{dev}")
    reason = weakness(settings.secret_key.get_secret_value())
    return MASTER.verdict(reason is None, reason or "set, long and unpredictable")


def _turn_secret(settings: Settings) -> Finding:
    if not settings.turn.enabled:
        return TURN_SECRET.skipped("TURN is off")
    if settings.turn.static_auth_secret is None:
        return TURN_SECRET.verdict(False, "turn.static_auth_secret is not set")
    reason = weakness(settings.turn.static_auth_secret.get_secret_value())
    return TURN_SECRET.verdict(reason is None, reason or "set, long and unpredictable")


def _loose(mode: int, *, directory: bool) -> bool:
    """Whether group or others may read, write or enter (execute for directories)."""
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO)) if directory else bool(mode & 0o077)


def _var_files(var_dir: Path) -> Finding:
    if not var_dir.exists():
        return VAR_FILES.skipped(f"{var_dir} does not exist on this machine")
    loose: list[str] = []
    seen = 0
    for path in [var_dir, *sorted(var_dir.rglob("*"))]:
        seen += 1
        if seen > MAX_FILES:
            break
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        if _loose(info.st_mode, directory=stat.S_ISDIR(info.st_mode)):
            loose.append(f"{path} ({stat.S_IMODE(info.st_mode):04o})")
    if not loose:
        return VAR_FILES.verdict(True, f"{min(seen, MAX_FILES)} entries, none open to others")
    more = f" and {len(loose) - SHOWN} more" if len(loose) > SHOWN else ""
    return VAR_FILES.verdict(False, "open to others: " + ", ".join(loose[:SHOWN]) + more)


def _config_file(path: Path | None) -> Finding:
    if path is None:
        return CONFIG_FILE.skipped("no configuration file given")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return CONFIG_FILE.skipped(f"{path} could not be read ({exc.strerror})")
    holds = [k for k in ("secret_key", "static_auth_secret", "password") if f"{k}:" in text]
    if not holds:
        return CONFIG_FILE.verdict(True, f"{path} ({mode:04o}) names no secret")
    ok = not mode & 0o077
    return CONFIG_FILE.verdict(ok, f"{path} is {mode:04o} and names {', '.join(holds)}")


def _local(host: str | None) -> bool:
    return host is None or host in LOOPBACK_HOSTS or host.startswith("/")


def _database_tls(settings: Settings) -> Finding:
    if not settings.database.url:
        return DB_TLS.skipped("the embedded SQLite file (no network)")
    host = make_url(settings.database.url).host
    if settings.database.tls.enabled:
        return DB_TLS.verdict(True, f"{settings.database.tls.mode.value} to {host}")
    if _local(host):
        return DB_TLS.verdict(True, f"{host or 'a Unix socket'}: loopback, no TLS needed")
    return DB_TLS.verdict(False, f"plain TCP to {host}")


def _redis_tls(settings: Settings) -> Finding:
    if settings.redis.url is None:
        return REDIS_TLS.skipped("no Redis (a single node)")
    parts = urlsplit(settings.redis.url.get_secret_value())
    if settings.redis.tls.enabled or parts.scheme == "rediss":
        return REDIS_TLS.verdict(True, f"TLS to {parts.hostname}")
    if parts.scheme == "unix" or _local(parts.hostname):
        return REDIS_TLS.verdict(True, f"{parts.hostname or 'a Unix socket'}: loopback")
    return REDIS_TLS.verdict(False, f"plain TCP to {parts.hostname}")


def _bind(settings: Settings) -> Finding:
    host = settings.server.host
    if host in WILDCARD_HOSTS:
        return BIND.verdict(False, f"server.host is {host or 'empty'}: every interface")
    return BIND.verdict(True, f"server.host is {host}")


def _debug(settings: Settings) -> Finding:
    noisy = []
    if settings.security.monitoring.log_level == "DEBUG":
        noisy.append("log_level DEBUG")
    if settings.database.echo:
        noisy.append("database.echo (every SQL statement logged)")
    level = settings.security.monitoring.log_level
    return DEBUG.verdict(not noisy, ", ".join(noisy) or f"log_level {level}")


def _turn_peers(settings: Settings) -> Finding:
    allowed = settings.media.ice.allow_remote_addresses
    if not allowed:
        return TURN_PEERS.verdict(True, "no reserved range allowed")
    return TURN_PEERS.verdict(False, "allowed: " + ", ".join(allowed))
