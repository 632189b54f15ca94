"""Evidence bundle layout, the signed statement, and the zip that holds them.

A bundle is a zip of five files: ``clip.webm``, ``manifest.json``, ``custody.json``,
``README.txt`` and ``signature.json``. The signature covers the first four through a
plain-text **statement**, one line per file, sorted by name::

    lensguard-evidence/1
    <sha256 hex>  README.txt
    <sha256 hex>  clip.webm
    <sha256 hex>  custody.json
    <sha256 hex>  manifest.json

``signature.json`` holds that statement, the digests, the kid, the algorithm and the
Ed25519 signature (base64url) over the statement's UTF-8 bytes. Anyone with the
public key can rebuild the statement with ``sha256sum`` and check the signature with
OpenSSL, or run ``lensguard evidence verify``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "lensguard-evidence/1"
CLIP, MANIFEST, CUSTODY, README, SIGNATURE = (
    "clip.webm",
    "manifest.json",
    "custody.json",
    "README.txt",
    "signature.json",
)
SIGNED = (CLIP, MANIFEST, CUSTODY, README)
"""The files the signature covers (every file but ``signature.json``)."""
MEMBERS = (*SIGNED, SIGNATURE)
ALGORITHM = "EdDSA"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
"""Every member's zip timestamp: the bundle's time is in the manifest, signed."""


def canonical_json(value: Any) -> bytes:
    """Deterministic, readable JSON: sorted keys, two-space indent, UTF-8, final newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def statement(digests: Mapping[str, str]) -> bytes:
    """The signed text: the format line, then ``<sha256>  <name>`` per file, sorted by name."""
    lines = [FORMAT, *(f"{digests[name]}  {name}" for name in sorted(digests))]
    return ("\n".join(lines) + "\n").encode("utf-8")


def signature_document(
    files: Mapping[str, bytes], *, kid: str, private_key: Ed25519PrivateKey
) -> dict[str, Any]:
    """``signature.json`` for ``files``: the statement and its Ed25519 signature."""
    digests = {name: sha256_hex(data) for name, data in files.items()}
    signed = statement(digests)
    return {
        "format": FORMAT,
        "alg": ALGORITHM,
        "crv": "Ed25519",
        "kid": kid,
        "digest": "sha256",
        "files": digests,
        "statement": signed.decode("utf-8"),
        "signature": b64url(private_key.sign(signed)),
    }


def write_bundle(files: Mapping[str, bytes], *, kid: str, private_key: Ed25519PrivateKey) -> bytes:
    """The zip of ``files`` (exactly ``SIGNED``) and their ``signature.json``."""
    if sorted(files) != sorted(SIGNED):
        raise ValueError(f"a bundle holds exactly {', '.join(SIGNED)}")
    signature = canonical_json(signature_document(files, kid=kid, private_key=private_key))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in MEMBERS:
            data = signature if name == SIGNATURE else files[name]
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            # The clip is compressed video already; the JSON and text compress well.
            info.compress_type = zipfile.ZIP_STORED if name == CLIP else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
