"""The ``README.txt`` of an evidence bundle: what it holds and how to check it offline."""

from __future__ import annotations

_TEXT = """\
lensguard evidence bundle {export_id}
=====================================

This archive is a signed export of recorded video. It holds:

  clip.webm       the recording of the range, a plain WebM (VP8) file that any
                  player opens; its frames are the recorded ones, never re-encoded.
                  Time 0 is manifest.json clip.start; gaps in the recording are kept.
  manifest.json   device, range, reason, who exported it and when, the server, the
                  clip's SHA-256, and every recorded segment it was cut from (stored
                  and plaintext SHA-256, chain links, the recording's anchored head).
  custody.json    the audit log entries about this device and range (anchors, views,
                  downloads, earlier exports), each with its audit chain hashes.
  signature.json  an Ed25519 signature (key id {kid}) over the SHA-256 of every
                  other file.

How to check it
---------------
You need only the server's public key: its JWKS (https://SERVER/.well-known/jwks.json,
the key whose "kid" is {kid}) or a PEM of that key from the operator
(`lensguard evidence key --pem`). Nothing else, no account, no network.

With lensguard installed:

    lensguard evidence verify bundle.zip --jwks jwks.json
    lensguard evidence verify bundle.zip --key evidence.pem

It prints GOOD and exits 0, or names each file that was changed and exits 1.

By hand (unzip, sha256sum, jq, openssl 3):

  1. unzip bundle.zip -d bundle && cd bundle
  2. sha256sum README.txt clip.webm custody.json manifest.json
     Each digest must equal the one in signature.json "files".
  3. The signed statement is the text in signature.json "statement": the line
     "lensguard-evidence/1", then "<sha256>  <name>" for the four files, sorted by
     name, each line ending in a newline. Rebuild it from step 2 and compare.
  4. jq -j .statement signature.json > statement.txt
     jq -r .signature signature.json | tr '_-' '/+' | base64 -d > signature.bin
     (add "=" padding to the base64 if your base64 asks for it)
     openssl pkeyutl -verify -pubin -inkey evidence.pem -rawin \\
         -in statement.txt -sigfile signature.bin
  5. The SHA-256 of clip.webm must equal manifest.json clip.sha256.

The audit entry hashes in custody.json can be matched against the server's own
audit chain (`lensguard audit verify` on the server checks that chain).
"""


def readme_text(*, export_id: str, kid: str) -> str:
    """The README of bundle ``export_id`` signed with key ``kid``."""
    return _TEXT.format(export_id=export_id, kid=kid)
