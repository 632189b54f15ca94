"""HTTP probes of a running server: security headers, CSP, and 401 without credentials."""

from __future__ import annotations

import re
from typing import Any

import httpx

from lensguard.hardening.findings import Check, Finding
from lensguard.severity import Severity

HSTS_MIN_SECONDS = 31_536_000  # one year, as ASVS 3.4.1 asks
MAX_PROBES = 25
METHODS = ("get",)  # unauthenticated GETs change nothing, whatever the route does
SHOWN = 5

HSTS = Check(
    "HDR-HSTS",
    "Strict-Transport-Security for at least a year",
    Severity.MEDIUM,
    "serve over TLS (the server then sends HSTS) or add it at the proxy",
    "V3.4.1",
)
CSP = Check(
    "HDR-CSP",
    "Strict Content-Security-Policy",
    Severity.MEDIUM,
    "keep the server's own CSP; a proxy must not replace or loosen it",
    "V3.4.3",
)
SNIFF = Check(
    "HDR-NOSNIFF",
    "X-Content-Type-Options: nosniff",
    Severity.LOW,
    "keep the server's own headers; a proxy must not strip them",
    "V3.4.4",
)
REFERRER = Check(
    "HDR-REFERRER",
    "Referrer-Policy that leaks no URL",
    Severity.LOW,
    "send Referrer-Policy: no-referrer (the server's default)",
    "V3.4.5",
)
FRAMING = Check(
    "HDR-FRAMING",
    "Pages cannot be framed by other sites",
    Severity.MEDIUM,
    "send CSP frame-ancestors 'none' and X-Frame-Options: DENY (the server's default)",
    "V3.4.6",
)
AUTH = Check(
    "API-AUTH",
    "API routes answer 401 without credentials",
    Severity.CRITICAL,
    "every route must declare its action (docs/api.md); report a route that answers",
    "V8.2.1",
)


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as ``{directive: [sources]}`` (first occurrence wins, as browsers do)."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    return found


def _hsts(headers: httpx.Headers) -> Finding:
    value = headers.get("strict-transport-security")
    if value is None:
        return HSTS.verdict(False, "no Strict-Transport-Security header")
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
    age = int(match.group(1)) if match else 0
    return HSTS.verdict(age >= HSTS_MIN_SECONDS, value)


def _csp(headers: httpx.Headers) -> Finding:
    value = headers.get("content-security-policy")
    if value is None:
        return CSP.verdict(False, "no Content-Security-Policy header")
    found = directives(value)
    scripts = found.get("script-src", found.get("default-src"))
    problems = []
    if scripts is None:
        problems.append("neither script-src nor default-src")
    elif {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(scripts):
        problems.append(
            "script-src allows "
            + " ".join(sorted({"'unsafe-inline'", "'unsafe-eval'", "*"} & set(scripts)))
        )
    if found.get("object-src") != ["'none'"]:
        problems.append("object-src is not 'none'")
    if "base-uri" not in found:
        problems.append("no base-uri")
    return CSP.verdict(not problems, "; ".join(problems) or value)


def _framing(headers: httpx.Headers) -> Finding:
    ancestors = directives(headers.get("content-security-policy", "")).get("frame-ancestors")
    xfo = headers.get("x-frame-options", "").upper()
    ok = ancestors in (["'none'"], ["'self'"]) or xfo in ("DENY", "SAMEORIGIN")
    seen = f"frame-ancestors {' '.join(ancestors or ['(none)'])}, X-Frame-Options {xfo or '(none)'}"
    return FRAMING.verdict(ok, seen)


def check_headers(client: httpx.Client) -> list[Finding]:
    """Header checks on the console page (what a browser loads first)."""
    response = client.get("/")
    headers = response.headers
    sniff = headers.get("x-content-type-options", "")
    referrer = headers.get("referrer-policy", "").lower()
    tight = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
    return [
        _hsts(headers),
        _csp(headers),
        SNIFF.verdict(sniff.lower() == "nosniff", sniff or "no X-Content-Type-Options"),
        REFERRER.verdict(referrer in tight, referrer or "no Referrer-Policy"),
        _framing(headers),
    ]


def protected_paths(spec: dict[str, Any], limit: int = MAX_PROBES) -> list[str]:
    """GET paths the OpenAPI document marks as needing credentials, path parameters filled."""
    public_by_default = spec.get("security") in (None, [])
    paths: list[str] = []
    for path, operations in sorted(spec.get("paths", {}).items()):
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            security = operation.get("security")
            if security == [] or (security is None and public_by_default):
                continue
            paths.append(re.sub(r"\{[^}]+\}", "0", path))
    return paths[:limit]


def check_auth(client: httpx.Client, limit: int = MAX_PROBES) -> Finding:
    """Each protected GET, asked without credentials, must answer 401."""
    spec = client.get("/openapi.json")
    if spec.status_code != 200:
        return AUTH.skipped(f"/openapi.json answered {spec.status_code}")
    paths = protected_paths(spec.json(), limit)
    if not paths:
        return AUTH.skipped("the OpenAPI document lists no protected GET route")
    wrong = []
    for path in paths:
        status = client.get(path).status_code
        if status != 401:
            wrong.append(f"GET {path} -> {status}")
    if wrong:
        more = f" and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
        return AUTH.verdict(False, ", ".join(wrong[:SHOWN]) + more)
    return AUTH.verdict(True, f"{len(paths)} protected GET routes all answered 401")
