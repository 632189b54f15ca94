"""The access review over the API: live findings, audited reviews, disabling stale accounts."""

from __future__ import annotations

from typing import Any

from lensguard.clock import ManualClock
from tests.api.conftest import PASSWORD, bearer, build_api
from tests.api.test_streams import device

DAY = 86_400.0
PATH = "/api/v1/compliance/access-review"


def by_name(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["username"]: a for a in review["accounts"]}


def review_settings(make_settings: Any, db_url: str) -> Any:
    # The clock jumps 100 days, and every schedule's turn that falls due on the way runs
    # (most of them a query on PostgreSQL): one denial flush an hour (2,400 of the
    # recorder's timers instead of 144,000), and checkpoints, retention, key and
    # escalation checks once a day instead of every few minutes.
    daily = 86_400
    return make_settings(
        database={"url": db_url},
        limits={"requests_per_minute": 100_000},
        audit={"denial_window_seconds": 3_600, "checkpoint_seconds": daily},
        privacy={"retention": {"interval_seconds": daily}},
        recordings={"retention": {"interval_seconds": daily}},
        incidents={"escalation_check_seconds": 3_600},
        security={"authentication": {"signing_key_check_seconds": daily}},
    )


async def test_a_review_reads_live_data_and_dates_the_next_one(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> None:
    settings = review_settings(make_settings, db_url)
    async for api in build_api(settings, clock=manual_clock):
        root = await api.token_for("root", "admin")
        vera = await api.token_for("vera", "viewer")
        await api.add_user("otto", "operator", sites=["dock"])
        key = await api.http.post(
            "/api/v1/api-keys",
            headers=bearer(vera),
            json={"name": "nas", "scopes": ["account_self", "camera_view"]},
        )
        assert key.status_code == 201, key.text
        device_id = await device(api, root, "dock")

        first = await api.http.get(PATH, headers=bearer(root))
        assert first.status_code == 200, first.text
        now = first.json()
        accounts = by_name(now)
        assert set(accounts) == {"root", "vera", "otto"}
        assert accounts["root"]["privileged"] and not accounts["vera"]["privileged"]
        assert accounts["otto"]["sites"] == ["dock"] and accounts["otto"]["last_login"] is None
        assert accounts["vera"]["live_api_keys"] == 1
        assert not any(a["stale"] for a in now["accounts"])  # everyone is new
        assert now["unused_api_keys"] == [] and now["idle_devices"] == []
        assert now["last_review"] is None and now["due"] is True
        assert now["privileged_without_mfa"] == [accounts["root"]["id"]]

        await manual_clock.advance(100 * DAY)
        root = str((await api.login("root"))["access_token"])
        later = (await api.http.get(PATH, headers=bearer(root))).json()
        accounts = by_name(later)
        assert [a["stale"] for a in (accounts[n] for n in ("root", "vera", "otto"))] == [
            False,
            True,
            True,
        ]
        assert sorted(later["stale_accounts"]) == sorted(
            [accounts["vera"]["id"], accounts["otto"]["id"]]
        )
        # Vera's key and the device's own credential: neither has been used.
        unused = {k["owner_user_id"] or k["owner_device_id"]: k for k in later["unused_api_keys"]}
        assert set(unused) == {accounts["vera"]["id"], device_id}
        assert unused[accounts["vera"]["id"]]["id"] == key.json()["id"]
        assert all(k["never_used"] for k in unused.values())
        assert [d["id"] for d in later["idle_devices"]] == [device_id]
        assert later["summary"]["stale"] == 2 and later["summary"]["never_signed_in"] == 1
        # The first review is on record and dates this one: due after 90 days.
        assert later["last_review"] is not None
        assert later["last_review"][:19] == now["at"][:19]
        assert later["due"] is True

        # A shorter horizon is a query option; bad ones are refused as problems.
        narrow = (await api.http.get(f"{PATH}?stale_days=365", headers=bearer(root))).json()
        assert narrow["stale_accounts"] == []
        for bad in ("stale_days=0", "device_days=x", "key_unused_days=99999"):
            refused = await api.http.get(f"{PATH}?{bad}", headers=bearer(root))
            assert refused.status_code == 422, bad
            assert refused.headers["content-type"].startswith("application/problem+json")

        audit = await api.http.get(
            "/api/v1/audit?action=compliance.access_review", headers=bearer(root)
        )
        entries = audit.json()["items"]
        assert len(entries) == 3
        assert {e["details"]["summary"]["stale"] for e in entries} == {0, 2}


async def test_stale_accounts_are_disabled_only_when_stale_and_never_the_caller(
    make_settings: Any, db_url: str, manual_clock: ManualClock
) -> None:
    settings = review_settings(make_settings, db_url)
    async for api in build_api(settings, clock=manual_clock):
        await api.add_user("root", "admin")
        vera_id = await api.add_user("vera", "viewer")
        vera = str((await api.login("vera"))["access_token"])
        key = await api.http.post(
            "/api/v1/api-keys",
            headers=bearer(vera),
            json={"name": "nas", "scopes": ["account_self", "camera_view"]},
        )
        otto_id = await api.add_user("otto", "operator")
        fresh_id = await api.add_user("nina", "viewer")
        await manual_clock.advance(100 * DAY)
        root = str((await api.login("root"))["access_token"])
        await api.login("nina")  # Nina signed in today: not stale.
        root_id = by_name((await api.http.get(PATH, headers=bearer(root))).json())["root"]["id"]

        url = f"{PATH}/disable-stale"
        reason = "quarterly review 2026-Q4: no use in 100 days"
        for ids, words in (
            ([vera_id, fresh_id], "not stale"),
            ([root_id], "not stale"),
            (["0" * 32], "do not exist"),
        ):
            refused = await api.http.post(
                url, headers=bearer(root), json={"user_ids": ids, "reason": reason}
            )
            assert refused.status_code == 409, refused.text
            assert words in refused.json()["detail"]
        too_short = await api.http.post(
            url, headers=bearer(root), json={"user_ids": [vera_id], "reason": "old"}
        )
        assert too_short.status_code == 422

        done = await api.http.post(
            url, headers=bearer(root), json={"user_ids": [vera_id, otto_id], "reason": reason}
        )
        assert done.status_code == 200, done.text
        assert sorted(done.json()["disabled"]) == sorted([vera_id, otto_id])
        # Disabled means disabled: no sign-in, and the key is gone for good.
        signin = await api.http.post(
            "/api/v1/auth/login", json={"username": "vera", "password": PASSWORD}
        )
        assert signin.status_code in (401, 403)
        secret = key.json()["key"]
        assert (await api.http.get("/api/v1/users/me", headers=bearer(secret))).status_code == 401
        after = by_name((await api.http.get(PATH, headers=bearer(root))).json())
        assert after["vera"]["disabled"] and after["otto"]["disabled"]
        again = await api.http.post(
            url, headers=bearer(root), json={"user_ids": [vera_id], "reason": reason}
        )
        assert again.status_code == 409  # already disabled

        audit = await api.http.get(
            "/api/v1/audit?action=compliance.disable_stale", headers=bearer(root)
        )
        [entry] = audit.json()["items"]
        assert sorted(entry["details"]["users"]) == sorted([vera_id, otto_id])
        assert entry["details"]["reason"] == reason


async def test_only_a_whole_scope_compliance_officer_may_review(
    make_settings: Any, sqlite_url: str
) -> None:
    settings = make_settings(database={"url": sqlite_url}, limits={"requests_per_minute": 100_000})
    async for api in build_api(settings):
        operator = await api.token_for("otto", "operator")
        site_admin = await api.token_for("sam", "admin", sites=["dock"])
        assert (await api.http.get(PATH)).status_code == 401
        for token in (operator, site_admin):
            answer = await api.http.get(PATH, headers=bearer(token))
            assert answer.status_code == 403, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            post = await api.http.post(
                f"{PATH}/disable-stale",
                headers=bearer(token),
                json={"user_ids": ["x"], "reason": "quarterly access review"},
            )
            assert post.status_code == 403
