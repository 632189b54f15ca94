"""Usernames folded and free of look-alikes; accounts made by someone else change their password."""

from typing import Any

import pytest

from lensguard.errors import ValidationFailed
from lensguard.identity.usernames import fold, new_username, skeleton
from tests.api.conftest import PASSWORD, Api, bearer


async def new_user(api: Api, token: str, username: str, **body: Any) -> Any:
    payload = {"username": username, "password": PASSWORD, "role": "viewer", **body}
    return await api.http.post("/api/v1/users", headers=bearer(token), json=payload)


async def test_usernames_are_case_insensitive(api_both: Api) -> None:
    api = api_both
    root = await api.token_for("root", "admin")
    made = await new_user(api, root, "Admin2")
    assert made.status_code == 201, made.text
    assert made.json()["username"] == "admin2"
    again = await new_user(api, root, "ADMIN2")
    assert again.status_code == 409
    assert "ADMIN2" not in again.text
    # Any spelling signs in to the one account, and counts against one throttle.
    tokens = await api.login("aDmIn2")
    assert tokens["restrictions"] == ["password_change"]


async def test_confusable_username_is_refused_on_create(api: Api) -> None:
    root = await api.token_for("root", "admin")
    assert (await new_user(api, root, "bob0")).status_code == 201
    for lookalike in ("bobo", "B0BO"):
        refused = await new_user(api, root, lookalike)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "a user whose name reads the same already exists"
    assert (await new_user(api, root, "rnallory")).status_code == 201
    assert (await new_user(api, root, "mallory")).status_code == 409
    # Letters beyond ASCII are where look-alikes live: refused outright.
    cyrillic = await new_user(api, root, "\u0430dmin")
    assert cyrillic.status_code == 422
    with pytest.raises(ValidationFailed):
        await api.add_user("\uff41dmin", "viewer")  # full-width, past the API's own pattern


def test_fold_and_skeleton() -> None:
    assert fold("Ａｄｍｉｎ") == fold("ADMIN") == "admin"  # noqa: RUF001 - the point of the test
    assert fold("Straße") == "strasse"
    assert skeleton("rn0vv1") == skeleton("mowl")
    assert new_username("Ada.Lovelace") == "ada.lovelace"
    for bad in ("", "-ada", "ada lovelace", "\u0430da", "x" * 65):
        with pytest.raises(ValidationFailed):
            new_username(bad)


async def test_users_created_by_an_admin_must_change_their_initial_password(api: Api) -> None:
    root = await api.token_for("root", "admin")
    made = await new_user(api, root, "carol", role="operator")
    assert made.json()["must_change_password"] is True
    tokens = await api.login("carol")
    assert tokens["restrictions"] == ["password_change"]
    token = tokens["access_token"]
    assert (await api.http.get("/api/v1/devices", headers=bearer(token))).status_code == 403
    changed = await api.http.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={"current_password": PASSWORD, "new_password": "a fresh secret phrase 55"},
    )
    assert changed.status_code == 200, changed.text
    fresh = await api.login("carol", "a fresh secret phrase 55")
    assert fresh["restrictions"] == []
    devices = await api.http.get("/api/v1/devices", headers=bearer(fresh["access_token"]))
    assert devices.status_code == 200
