"""The role → permission policy: its loading, its refusals and the roles it ships with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from lensguard.access import policy as policy_module
from lensguard.access.policy import Policy, load_policy
from lensguard.errors import ConfigurationError, ValidationFailed
from lensguard.identity import accounts
from lensguard.intake import MAX_YAML_BYTES
from lensguard.services import Services

POLICY = load_policy()
SHIPPED: dict[str, Any] = yaml.safe_load(
    files("lensguard.access").joinpath("policy.yaml").read_text("utf-8")
)
VALID_ROLES = "admin, device, investigator, operator, viewer"
PASSWORD = "correct horse battery staple 42"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, "utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(path)
    return raised.value.detail


# -- the shipped policy ------------------------------------------------------------


def test_shipped_roles_grant_exactly_what_policy_yaml_lists() -> None:
    assert POLICY.roles == {role: frozenset(granted) for role, granted in SHIPPED["roles"].items()}


def test_shipped_permissions_are_those_policy_yaml_describes() -> None:
    assert POLICY.permissions == SHIPPED["permissions"]
    assert all(isinstance(text, str) and text for text in POLICY.permissions.values())


@pytest.mark.parametrize("role", sorted(SHIPPED["roles"]))
def test_each_shipped_role_grants_its_listed_actions(role: str) -> None:
    assert POLICY.grants(role) == frozenset(SHIPPED["roles"][role])
    assert POLICY.require_role(role) == role
    assert POLICY.require_role_or_invalid(role) == role


def test_shipped_roles_keep_their_separations() -> None:
    assert sorted(POLICY.roles) == VALID_ROLES.split(", ")
    # A device publishes its own video and nothing else; no person role may publish.
    assert POLICY.grants("device") == frozenset({"stream_publish"})
    assert [r for r in POLICY.roles if "stream_publish" in POLICY.grants(r)] == ["device"]
    # Break-glass belongs to the investigator alone, not even to admin.
    assert [r for r in POLICY.roles if "redaction_override" in POLICY.grants(r)] == ["investigator"]
    # Camera movement is admin's; drive commands are admin's and operator's.
    assert [r for r in POLICY.roles if "camera_control" in POLICY.grants(r)] == ["admin"]
    assert [r for r in POLICY.roles if "basic_control" in POLICY.grants(r)] == [
        "admin",
        "operator",
    ]
    assert {"camera_view", "account_self"} <= POLICY.grants("viewer")
    assert not POLICY.grants("viewer") & {"basic_control", "camera_control", "user_management"}


def test_unknown_role_grants_nothing() -> None:
    assert POLICY.grants("superuser") == frozenset()
    assert POLICY.grants("") == frozenset()
    assert POLICY.grants("Admin") == frozenset()


# -- require_role (configuration) and require_role_or_invalid (API input) ----------


@pytest.mark.parametrize("role", ["superuser", "", "Admin", "admin "])
def test_unknown_role_in_configuration_is_refused_naming_the_valid_ones(role: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        POLICY.require_role(role)
    assert raised.value.detail == f"unknown role {role!r}; valid roles: {VALID_ROLES}"


@pytest.mark.parametrize("role", ["superuser", "", "Admin", "admin "])
def test_unknown_role_from_api_input_is_a_422_that_does_not_echo_it(role: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        POLICY.require_role_or_invalid(role)
    problem = raised.value
    assert problem.status == 422
    assert problem.detail == f"role must be one of: {VALID_ROLES}"
    assert problem.extensions == {
        "errors": [{"field": "role", "message": f"must be one of: {VALID_ROLES}", "type": "enum"}]
    }


# -- files that load ---------------------------------------------------------------


def test_policy_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "permissions:\n  camera_view: Watch\n  basic_control: Drive\n"
        "roles:\n  guard: [camera_view]\n  driver: [camera_view, basic_control]\n",
    )
    policy = load_policy(path)
    assert policy == Policy(
        permissions={"camera_view": "Watch", "basic_control": "Drive"},
        roles={
            "guard": frozenset({"camera_view"}),
            "driver": frozenset({"camera_view", "basic_control"}),
        },
    )
    assert policy.grants("admin") == frozenset()
    assert policy.require_role("guard") == "guard"
    with pytest.raises(ConfigurationError) as raised:
        policy.require_role("admin")
    assert raised.value.detail == "unknown role 'admin'; valid roles: driver, guard"


def test_a_role_may_grant_nothing(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "permissions: {}\nroles: {locked: []}\n"))
    assert policy.roles == {"locked": frozenset()}
    assert policy.permissions == {}
    assert policy.require_role("locked") == "locked"


def test_names_and_descriptions_are_read_as_text(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, "permissions: {camera_view: 7}\nroles: {1: [camera_view]}\n")
    )
    assert policy.permissions == {"camera_view": "7"}
    assert policy.roles == {"1": frozenset({"camera_view"})}
    assert policy.require_role("1") == "1"


def test_a_repeated_grant_counts_once(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, "permissions: {camera_view: x}\nroles: {v: [camera_view, camera_view]}\n")
    )
    assert policy.grants("v") == frozenset({"camera_view"})


# -- files that are refused, each with a clear reason -----------------------------


@pytest.mark.parametrize("text", ["- camera_view\n- admin\n", "just words\n", "", "42\n"])
def test_policy_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert refusal(path) == f"policy {path} must be a mapping"


@pytest.mark.parametrize(
    "text",
    [
        "roles: {viewer: []}\n",
        "permissions: [camera_view]\nroles: {viewer: []}\n",
        "permissions: null\nroles: {viewer: []}\n",
        "permissions: {camera_view: x}\n",
        "permissions: {camera_view: x}\nroles: [viewer]\n",
        "permissions: {camera_view: x}\nroles: viewer\n",
        "permissions: {camera_view: x}\nroles: {}\n",
        "{}\n",
    ],
)
def test_policy_without_both_mappings_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert refusal(path) == f"policy {path} needs 'permissions' and 'roles' mappings"


@pytest.mark.parametrize(
    "granted",
    ["camera_view", "{camera_view: x}", "null", "[camera_view, 3]", "[1]", "[[camera_view]]"],
)
def test_role_that_does_not_list_permission_names_is_refused(tmp_path: Path, granted: str) -> None:
    path = write(tmp_path, f"permissions: {{camera_view: x}}\nroles:\n  viewer: {granted}\n")
    assert refusal(path) == f"policy {path}: role 'viewer' must list permissions"


def test_every_role_is_checked_not_only_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path, "permissions: {camera_view: x}\nroles: {viewer: [camera_view], guard: oops}\n"
    )
    assert refusal(path) == f"policy {path}: role 'guard' must list permissions"


def test_role_granting_unknown_permissions_is_refused_naming_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "permissions: {camera_view: x}\n"
        "roles: {viewer: [camera_view], pilot: [teleport, camera_view, fly]}\n",
    )
    assert refusal(path) == (
        f"policy {path}: role 'pilot' grants unknown permissions ['fly', 'teleport']"
    )


def test_a_role_name_is_not_a_permission(tmp_path: Path) -> None:
    path = write(tmp_path, "permissions: {camera_view: x}\nroles: {viewer: [viewer]}\n")
    assert refusal(path) == f"policy {path}: role 'viewer' grants unknown permissions ['viewer']"


def test_policy_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: [viewer\n")
    with pytest.raises(ConfigurationError) as raised:
        load_policy(path)
    assert raised.value.detail.startswith(f"cannot read policy {path}: ")
    assert isinstance(raised.value.__cause__, yaml.YAMLError)


def test_policy_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"permissions: {camera_view: \xff}\nroles: {viewer: [camera_view]}\n")
    assert refusal(path) == (
        f"security.access_control.policy_file: policy file {path} is not UTF-8 text "
        "(byte 27 cannot be read)"
    )


def test_policy_file_that_is_utf8_loads_its_text(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(
        "permissions: {camera_view: Überwachung}\nroles: {v: [camera_view]}\n".encode()
    )
    assert load_policy(path).permissions == {"camera_view": "Überwachung"}


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert refusal(path) == (
        f"security.access_control.policy_file: policy file {path} cannot be read: "
        "No such file or directory"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "is a PNG image, not a text file"),
        (b"%PDF-1.7\n", "is a PDF document, not a text file"),
        (b"PK\x03\x04" + bytes(30), "is a ZIP archive (or an office document), not a text file"),
        (
            b"permissions: {camera_view: x}\nroles:\x00 {v: [camera_view]}\n",
            "holds a control character (U+0000) on line 2: it is not a text file",
        ),
    ],
)
def test_a_policy_file_that_is_not_text_is_refused_by_its_content(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "policy.yaml"  # the name says YAML; the content decides
    path.write_bytes(content)
    assert refusal(path) == f"security.access_control.policy_file: policy file {path} {why}"


def test_a_policy_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"# " + b"x" * MAX_YAML_BYTES + b"\n")
    assert refusal(path) == (
        f"security.access_control.policy_file: policy file {path} is larger than "
        f"{MAX_YAML_BYTES:,} bytes: is it the right file?"
    )


def test_a_policy_with_yaml_aliases_is_refused(tmp_path: Path) -> None:
    laughs = "a: &a [lol, lol, lol]\nb: &b [*a, *a, *a]\n"
    path = write(tmp_path, laughs + "permissions: {camera_view: x}\nroles: {v: [camera_view]}\n")
    assert refusal(path) == (
        f"security.access_control.policy_file: policy file {path} uses a YAML anchor or "
        "alias on line 1: write the values out in full"
    )


def test_broken_built_in_policy_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stand in for the installed package's data folder with one whose policy is broken.
    asked: list[str] = []

    def package_files(package: str) -> Path:
        asked.append(package)
        return tmp_path

    write(tmp_path, "roles: [viewer]\n")
    monkeypatch.setattr(policy_module, "files", package_files)
    with pytest.raises(ConfigurationError) as raised:
        load_policy()
    assert raised.value.detail == "policy (built-in) needs 'permissions' and 'roles' mappings"
    assert asked == ["lensguard.access"]


# -- default_role: checked against the policy at start-up, and given to new accounts


def test_unknown_default_role_is_refused_at_start_up(make_settings: Any) -> None:
    settings = make_settings(security={"access_control": {"default_role": "superuser"}})
    with pytest.raises(ConfigurationError) as raised:
        Services.build(settings)
    assert raised.value.detail == f"unknown role 'superuser'; valid roles: {VALID_ROLES}"


def test_default_role_must_exist_in_the_configured_policy(
    make_settings: Any, tmp_path: Path
) -> None:
    path = write(tmp_path, "permissions: {camera_view: x}\nroles: {guard: [camera_view]}\n")
    settings = make_settings(security={"access_control": {"policy_file": str(path)}})
    with pytest.raises(ConfigurationError) as raised:
        Services.build(settings)
    # The built-in default (viewer) is not a role of this policy.
    assert raised.value.detail == "unknown role 'viewer'; valid roles: guard"


@pytest.fixture
async def identity(make_settings: Any, sqlite_url: str) -> AsyncIterator[Services]:
    settings = make_settings(
        database={"url": sqlite_url}, security={"access_control": {"default_role": "operator"}}
    )
    services = Services.build(settings)
    try:
        yield services
    finally:
        await services.close()


async def test_accounts_created_without_a_role_get_the_default_role(
    identity: Services,
) -> None:
    assert identity.policy.require_role("operator") == "operator"
    defaulted = await accounts.create_account(
        identity,
        username="carol",
        password=PASSWORD,
        role=None,
        sites=["*"],
        devices=["*"],
        by=None,
    )
    chosen = await accounts.create_account(
        identity,
        username="dave",
        password=PASSWORD,
        role="viewer",
        sites=["*"],
        devices=["*"],
        by=None,
    )
    assert (defaulted.role, chosen.role) == ("operator", "viewer")
