"""Checks of the internal CA: its key's file mode, and whether devices must use it."""

from __future__ import annotations

import stat

from lensguard.hardening.findings import Check, Finding
from lensguard.pki.authority import CA_CERT, CA_KEY
from lensguard.pki.listener import ca_dir
from lensguard.pki.settings import DeviceTLS
from lensguard.settings import Settings
from lensguard.severity import Severity

CA_KEY_FILE = Check(
    "PKI-CA-KEY",
    "The internal CA's key readable by the owner only",
    Severity.HIGH,
    "chmod 0600 the CA key (and 0700 its directory), or keep it offline with "
    "`lensguard certs --ca-dir`",
    "V13.3.2",
)
DEVICE_TLS = Check(
    "PKI-DEVICE-TLS",
    "Devices present their own certificate (mutual TLS)",
    Severity.MEDIUM,
    "issue each device a certificate (`lensguard certs issue device`), give the agents "
    "--client-cert and --client-key, then set security.pki.device_tls: required",
    "V12.3.5",
)


def check_pki(settings: Settings) -> list[Finding]:
    """Both checks; skipped where there is no internal CA on this machine."""
    directory = ca_dir(settings)
    key = directory / CA_KEY
    if not (directory / CA_CERT).is_file():
        why = f"no internal CA in {directory} (`lensguard certs init` makes one)"
        return [CA_KEY_FILE.skipped(why), DEVICE_TLS.skipped(why)]
    found = []
    if key.is_file():
        mode = stat.S_IMODE(key.stat().st_mode)
        found.append(CA_KEY_FILE.verdict(not mode & 0o077, f"{key} is {mode:04o}"))
    else:
        found.append(CA_KEY_FILE.verdict(True, f"the key is not on this machine (only {CA_CERT})"))
    mode_name = settings.security.pki.device_tls.value
    required = settings.security.pki.device_tls is DeviceTLS.REQUIRED
    found.append(DEVICE_TLS.verdict(required, f"security.pki.device_tls is {mode_name}"))
    return found
