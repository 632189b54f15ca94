"""can() as a table: one assert per case, failing closed."""

from pathlib import Path

import pytest

from lensguard.access.can import can, refusal
from lensguard.access.policy import load_policy
from lensguard.access.principal import Principal, PrincipalKind, Resource
from lensguard.errors import ConfigurationError, ValidationFailed

POLICY = load_policy()


def who(role: str, sites: tuple[str, ...] = ("*",), devices: tuple[str, ...] = ("*",)) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        id=f"id-{role}",
        name=role,
        role=role,
        permissions=POLICY.grants(role),
        sites=frozenset(sites),
        devices=frozenset(devices),
    )


SITE_A = Resource(kind="device", id="cam-1", site="site-a")
SITE_B = Resource(kind="device", id="cam-9", site="site-b")

CASES = [
    # (principal, action, resource, allowed)
    (None, "camera_view", SITE_A, False),
    (who("viewer"), "camera_view", SITE_A, True),
    (who("viewer"), "basic_control", SITE_A, False),
    (who("viewer"), "camera_control", SITE_A, False),
    (who("operator"), "basic_control", SITE_A, True),
    (who("operator"), "camera_control", SITE_A, False),
    (who("admin"), "camera_control", SITE_A, True),
    (who("admin"), "user_management", None, True),
    (who("operator"), "user_management", None, False),
    (who("viewer", sites=("site-a",)), "camera_view", SITE_A, True),
    (who("viewer", sites=("site-a",)), "camera_view", SITE_B, False),
    (who("viewer", sites=("site-a",), devices=("cam-2",)), "camera_view", SITE_A, False),
    (who("viewer", sites=("site-a",), devices=("cam-1",)), "camera_view", SITE_A, True),
    (who("admin", sites=("site-b",)), "camera_view", SITE_A, False),
    (who("device"), "stream_publish", SITE_A, True),
    (who("device"), "camera_view", SITE_A, False),
    (who("viewer"), "account_self", Resource(kind="session", owner_id="id-viewer"), True),
    (who("viewer"), "account_self", Resource(kind="session", owner_id="someone-else"), False),
    (who("viewer"), "no_such_action", None, False),
    (who("unknown-role"), "camera_view", SITE_A, False),
]


@pytest.mark.parametrize(("principal", "action", "resource", "allowed"), CASES)
def test_can(
    principal: Principal | None, action: str, resource: Resource | None, allowed: bool
) -> None:
    assert can(principal, action, resource) is allowed


def test_seed_roles_are_in_the_default_policy() -> None:
    assert {"camera_control", "system_config", "user_management"} <= POLICY.grants("admin")
    assert {"camera_view", "basic_control"} <= POLICY.grants("operator")
    assert "camera_view" in POLICY.grants("viewer")
    assert POLICY.grants("device") == frozenset({"stream_publish"})


def test_policy_file_with_unknown_permission_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("permissions: {camera_view: x}\nroles: {viewer: [camera_view, teleport]}\n")
    with pytest.raises(ConfigurationError, match="teleport"):
        load_policy(path)


def test_policy_file_overrides_default(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "permissions: {camera_view: x, account_self: y}\nroles: {guard: [camera_view]}\n"
    )
    policy = load_policy(path)
    assert policy.grants("guard") == frozenset({"camera_view"})
    assert policy.grants("admin") == frozenset()


def test_unknown_role_from_api_input_names_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed, match="admin, device, investigator, operator, viewer"):
        POLICY.require_role_or_invalid("superuser")


def test_break_glass_is_for_people_only() -> None:
    person = who("investigator")
    assert can(person, "redaction_override", SITE_A)
    assert not can(who("admin"), "redaction_override", SITE_A)
    for kind in (PrincipalKind.API_KEY, PrincipalKind.DEVICE):
        # Same permissions, not a signed-in person: refused, with a reason that says so.
        stand_in = Principal(
            kind=kind,
            id="id-investigator",
            name="key",
            role="investigator",
            permissions=person.permissions,
        )
        assert not can(stand_in, "redaction_override", SITE_A)
        assert can(stand_in, "camera_view", SITE_A)
        assert "signed-in user" in refusal(stand_in, "redaction_override")
    assert refusal(who("viewer"), "redaction_override") == (
        "your role does not allow redaction_override"
    )
