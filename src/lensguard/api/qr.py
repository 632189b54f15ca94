"""A QR code of an ``otpauth://`` URI, as an SVG ``data:`` URI for an ``<img>``.

The console shows it during MFA enrolment. The page's CSP allows ``img-src data:``,
and an ``<img>`` runs no script, so the SVG needs no route of its own. The URI holds
the TOTP secret: the picture is part of the enrolment answer (never a URL with the
secret in it) and is never logged.
"""

from __future__ import annotations

import base64
import io

import segno

SCALE = 5  # pixels per module: a version-6..8 code is about 250 px across
BORDER = 4  # the quiet zone the QR standard asks for, in modules


def svg_data_uri(text: str) -> str:
    """``data:image/svg+xml;base64,…`` of a QR code (error correction M) of ``text``."""
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    # A standalone SVG document (with its xmlns, which an <img> needs), no XML declaration.
    code.save(out, kind="svg", scale=SCALE, border=BORDER, dark="#000", light="#fff", xmldecl=False)
    encoded = base64.b64encode(out.getvalue()).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"
