"""Debian's Chromium driven by Playwright, trusting exactly one test server's TLS key.

Never ``playwright install``: the system browser at /usr/bin/chromium is the one we
test. Each launch gets a fresh profile directory.

Certificate trust: rather than ``ignore_https_errors`` (which accepts *any* bad
certificate, and would hide a TLS regression), Chromium is told to accept the one
public key of the server's generated certificate with
``--ignore-certificate-errors-spki-list``. Chromium honours that flag only together
with ``--user-data-dir``, which a persistent context always passes.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
]


def chromium_path() -> str:
    """The system Chromium, or a clear error saying how to install it."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            "chromium is not installed; run `make test` or `apt-get install chromium`"
        )
    return found


def spki_hash(cert_pem: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium expects."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@asynccontextmanager
async def chromium(
    profile: Path, *, trust: Path | None = None, csp: CspWatch | None = None
) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile in ``profile``, trusting ``trust``'s key.

    Every page reports Content-Security-Policy violations to ``csp`` (a new watch when
    none is given); any still unchecked when the browser closes fails the caller.
    """
    args = list(ARGS)
    if trust is not None:
        args.append(f"--ignore-certificate-errors-spki-list={spki_hash(trust)}")
    watch = csp or CspWatch()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path(), headless=True, args=args
        )
        try:
            await watch.attach(context)
            yield context
        finally:
            await context.close()
    watch.check()


# Reports every Content-Security-Policy violation of every page to the test, which
# fails on any (see CspWatch). An init script runs before the page's own and is not
# subject to the page's CSP.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = event.sourceFile || event.documentURI;
  const what = event.blockedURI || "inline";
  window.__lensguardCspViolation(`${event.violatedDirective} blocked ${what} in ${where}`);
}, true);
"""


class CspWatch:
    """Collects the ``securitypolicyviolation`` events of a browser context's pages."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    async def attach(self, context: BrowserContext) -> None:
        def report(violation: str) -> None:
            self.violations.append(violation)

        await context.expose_function("__lensguardCspViolation", report)
        await context.add_init_script(CSP_REPORTER)

    def check(self) -> None:
        """Fail (and forget them, for the next test) if any violation was reported."""
        found = list(self.violations)
        self.violations.clear()
        assert not found, f"Content-Security-Policy violations: {found}"
