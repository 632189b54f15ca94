"""One app per test module, its OpenAPI operations and the matrix's callers.

Module-scoped: signing in hashes a password (slow on purpose), so each caller signs
in once and the walk reuses its credential, renewing it only when an operation ended it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.conftest import Api
from tests.security.callers import Caller, all_callers, module_api
from tests.security.operations import Operation, fetch_document, parse_operations


@pytest.fixture(scope="module")
async def api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async for value in module_api(tmp_path_factory.mktemp("security")):
        yield value


@pytest.fixture(scope="module")
async def operations(api: Api) -> list[Operation]:
    return parse_operations(await fetch_document(api.http), api.app)


@pytest.fixture(scope="module")
async def callers(api: Api) -> dict[str, Caller]:
    return {caller.name: caller for caller in await all_callers(api)}
