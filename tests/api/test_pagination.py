"""Every list route pages one way: ``?limit=``, ``?cursor=``, the next page in ``Link``.

Each list is walked a few items at a time on SQLite and PostgreSQL by following
``rel="next"`` until it is absent; the walk must see exactly what one big page shows,
in the same order, each item once. Bad limits and cursors are 422 problems.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from lensguard.api.pages import DEFAULT_LIMIT, MAX_LIMIT
from tests.api.conftest import Api, bearer
from tests.api.test_api_keys import create_key
from tests.api.test_sites import put as put_site
from tests.api.test_streams import device

PAGE = 3
MANY = 7  # more than two pages of PAGE
NEXT = re.compile(r'^<(/[^>]*)>; rel="next"$')


async def walk(api: Api, url: str, token: str) -> list[Any]:
    """Every item of a list route, following ``Link`` from a first page of ``PAGE``."""
    seen: list[Any] = []
    link: str | None = f"{url}{'&' if '?' in url else '?'}limit={PAGE}"
    while link is not None:
        response = await api.http.get(link, headers=bearer(token))
        assert response.status_code == 200, response.text
        items = response.json()
        seen += items
        header = response.headers.get("link")
        if header is None:
            assert len(items) <= PAGE
            link = None
        else:
            assert len(items) == PAGE  # only the last page is short
            match = NEXT.fullmatch(header)
            assert match is not None, header
            link = match.group(1)
        assert len(seen) <= 100, "the walk does not end"
    return seen


async def whole(api: Api, url: str, token: str) -> list[Any]:
    """The list in one page: the reference the walk must reproduce."""
    response = await api.http.get(
        f"{url}{'&' if '?' in url else '?'}limit={MAX_LIMIT}", headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    assert "link" not in response.headers
    items: list[Any] = response.json()
    return items


def ids(items: list[Any], field: str = "id") -> list[str]:
    return [str(item[field]) for item in items]


async def assert_pages(api: Api, url: str, token: str, *, field: str = "id") -> list[str]:
    everything = ids(await whole(api, url, token), field)
    walked = ids(await walk(api, url, token), field)
    assert walked == everything
    assert len(set(walked)) == len(walked) >= MANY
    return walked


async def test_users_page_by_username(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    for n in range(MANY):
        await api.add_user(f"user-{(n * 5) % MANY}", "viewer")
    walked = await assert_pages(api, "/api/v1/users", admin, field="username")
    assert walked == sorted(walked)


async def test_api_keys_page_oldest_first(api_both: Api) -> None:
    api = api_both
    token = await api.token_for("ada", "operator")
    made = [(await create_key(api, token, name=f"k{n}")).json()["id"] for n in range(MANY)]
    assert await assert_pages(api, "/api/v1/api-keys", token) == made


async def test_devices_page_by_site_and_name_and_survive_a_removal(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    for n in range(MANY):
        created = await api.http.post(
            "/api/v1/devices",
            headers=bearer(admin),
            json={"name": f"cam-{n}", "site": f"site-{n % 2}", "kind": "camera"},
        )
        assert created.status_code == 201
    walked = await assert_pages(api, "/api/v1/devices", admin)
    listed = await whole(api, "/api/v1/devices", admin)
    assert [(d["site"], d["name"]) for d in listed] == sorted(
        (d["site"], d["name"]) for d in listed
    )

    # The cursor names a position, not an item: removing the last one shown skips nothing.
    first = await api.http.get(f"/api/v1/devices?limit={PAGE}", headers=bearer(admin))
    gone = first.json()[-1]["id"]
    assert (await api.http.delete(f"/api/v1/devices/{gone}", headers=bearer(admin))).status_code
    match = NEXT.fullmatch(first.headers["link"])
    assert match is not None
    rest = await api.http.get(match.group(1), headers=bearer(admin))
    assert ids(rest.json()) == walked[PAGE : PAGE * 2]


async def test_sessions_page_newest_first(api_both: Api) -> None:
    api = api_both
    await api.add_user("ada", "operator")
    tokens = [(await api.login("ada"))["access_token"] for _ in range(MANY)]
    walked = await assert_pages(api, "/api/v1/sessions", tokens[-1])
    listed = await whole(api, "/api/v1/sessions", tokens[-1])
    assert [s["created_at"] for s in listed] == sorted(
        (s["created_at"] for s in listed), reverse=True
    )
    assert walked[0] == listed[0]["id"]


async def test_blocklist_pages_oldest_first(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    for n in range(MANY):
        blocked = await api.http.post(
            "/api/v1/security/blocklist",
            headers=bearer(admin),
            json={"address": f"203.0.113.{n + 1}", "ttl_seconds": None, "reason": "test"},
        )
        assert blocked.status_code == 201, blocked.text
    await assert_pages(api, "/api/v1/security/blocklist", admin, field="address")


async def test_break_glass_grants_page(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    device_id = await device(api, admin, "dock")
    assert (await put_site(api, admin, "dock", redact_faces=True)).status_code == 200
    investigator = await api.token_for("ivy", "investigator", sites=["dock"])
    path = f"/api/v1/streams/{device_id}/break-glass"
    reason = {"reason": "incident 7: verify who opened door 4", "minutes": 5}
    for _ in range(MANY):
        granted = await api.http.post(path, headers=bearer(investigator), json=reason)
        assert granted.status_code == 201, granted.text
    await assert_pages(api, path, investigator)


async def test_audit_follows_link_with_after_seq(api_both: Api) -> None:
    api = api_both
    admin = await api.token_for("root", "admin")
    for n in range(MANY):
        await create_key(api, admin, name=f"k{n}")
    url = "/api/v1/audit?action=apikey.create"
    first = await api.http.get(f"{url}&limit={PAGE}", headers=bearer(admin))
    seen, response = first.json()["items"], first
    while "link" in response.headers:
        match = NEXT.fullmatch(response.headers["link"])
        assert match is not None
        assert f"after_seq={response.json()['next_after_seq']}" in match.group(1)
        response = await api.http.get(match.group(1), headers=bearer(admin))
        seen += response.json()["items"]
    seqs = [e["seq"] for e in seen]
    assert len(seqs) == MANY and seqs == sorted(set(seqs))


def _cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


BAD_CURSORS = [
    "!!!",  # not base64url
    "x" * 600,  # too long
    "Zm9v",  # base64url of "foo": not JSON
    _cursor([1, 2]),  # JSON, not an object
    _cursor({"l": "devices", "k": ["a", "b", "c"]}),  # another list's
    _cursor({"l": "users", "k": [1]}),  # wrong type in the key
    _cursor({"l": "users", "k": [True]}),
    _cursor({"l": "users", "k": ["a", "b"]}),  # wrong length
    _cursor({"l": "users", "k": ["a"], "x": 1}),  # extra field
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_bad_cursor_is_a_422_problem(api: Api, cursor: str) -> None:
    admin = await api.token_for("root", "admin")
    response = await api.http.get(f"/api/v1/users?cursor={cursor}", headers=bearer(admin))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["query.cursor"]
    assert cursor not in response.text


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "ten"])
@pytest.mark.parametrize(
    "url", ["/api/v1/users", "/api/v1/devices", "/api/v1/sessions", "/api/v1/api-keys"]
)
async def test_a_limit_out_of_range_is_a_422_problem(api: Api, url: str, limit: str) -> None:
    admin = await api.token_for("root", "admin")
    response = await api.http.get(f"{url}?limit={limit}", headers=bearer(admin))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


async def test_the_default_page_is_bounded(api: Api) -> None:
    admin = await api.token_for("root", "admin")
    for n in range(DEFAULT_LIMIT + 1):
        blocked = await api.http.post(
            "/api/v1/security/blocklist",
            headers=bearer(admin),
            json={"address": f"203.0.113.{n + 1}", "ttl_seconds": None, "reason": "test"},
        )
        assert blocked.status_code == 201
    first = await api.http.get("/api/v1/security/blocklist", headers=bearer(admin))
    assert len(first.json()) == DEFAULT_LIMIT
    assert "cursor=" in first.headers["link"]
