"""Fixtures the console's browser test modules share: one Chromium per module that
trusts the module's ``world`` server, a new page per test, and a CSP watch that fails
any test during which a page reported a Content-Security-Policy violation.

A module using ``browser`` or ``page`` defines its own module-scoped ``world``, and
may name init scripts for every page in ``BROWSER_INIT_SCRIPTS``; a module with other
needs defines its own fixtures of these names, which take precedence.
"""

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import BrowserContext, Page

from tests.harness.browser import CspWatch, chromium
from tests.harness.world import World


@pytest.fixture(scope="module")
def csp() -> CspWatch:
    return CspWatch()


@pytest.fixture(scope="module")
async def browser(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    world: World,
    csp: CspWatch,
) -> AsyncIterator[BrowserContext]:
    assert world.server.cert_path is not None
    profile = tmp_path_factory.mktemp("profile")
    async with chromium(profile, trust=world.server.cert_path, csp=csp) as ctx:
        # A module's BROWSER_INIT_SCRIPTS run in every page before the page's own.
        for script in getattr(request.module, "BROWSER_INIT_SCRIPTS", ()):
            await ctx.add_init_script(script)
        yield ctx


@pytest.fixture(autouse=True)
def no_csp_violations(csp: CspWatch) -> Iterator[None]:
    yield
    csp.check()


@pytest.fixture
async def page(browser: BrowserContext) -> AsyncIterator[Page]:
    opened = await browser.new_page()
    yield opened
    await opened.close()
