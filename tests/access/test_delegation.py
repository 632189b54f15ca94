"""can() on user management as a table: whom a principal may touch and what it may grant."""

import pytest

from lensguard.access.can import can, refusal
from lensguard.access.delegation import covers
from lensguard.access.policy import load_policy
from lensguard.access.principal import Grant, Principal, PrincipalKind, Resource

POLICY = load_policy()
MANAGE = "user_management"


def who(
    role: str,
    sites: tuple[str, ...] = ("*",),
    devices: tuple[str, ...] = ("*",),
    permissions: frozenset[str] | None = None,
) -> Principal:
    return Principal(
        kind=PrincipalKind.USER,
        id=f"id-{role}-{'-'.join(sites)}",
        name=role,
        role=role,
        permissions=POLICY.grants(role) if permissions is None else permissions,
        sites=frozenset(sites),
        devices=frozenset(devices),
    )


def holding(role: str, sites: tuple[str, ...] = ("*",), devices: tuple[str, ...] = ("*",)) -> Grant:
    return Grant(
        permissions=POLICY.grants(role), sites=frozenset(sites), devices=frozenset(devices)
    )


def touch(target: Grant) -> Resource:
    return Resource(kind="user", id="target", holds=target)


def change(before: Grant, after: Grant) -> Resource:
    return Resource(kind="user", id="target", holds=before, grants=after)


def create(after: Grant) -> Resource:
    return Resource(kind="user", grants=after)


GLOBAL = who("admin")
SITE_A = who("admin", sites=("site-a",))
KEY = who("admin", permissions=frozenset({MANAGE, "account_self"}))  # a narrow API key's view

CASES = [
    # Whom one may touch: the target's scope and permissions inside one's own.
    (GLOBAL, touch(holding("admin")), True),
    (SITE_A, touch(holding("viewer", sites=("site-a",))), True),
    (SITE_A, touch(holding("admin", sites=("site-a",))), True),
    (SITE_A, touch(holding("admin")), False),  # the global admin
    (SITE_A, touch(holding("viewer", sites=("site-a", "site-b"))), False),
    (SITE_A, touch(holding("viewer", sites=("site-b",))), False),
    (who("admin", devices=("cam-1",)), touch(holding("viewer")), False),
    (who("admin", devices=("cam-1",)), touch(holding("viewer", devices=("cam-1",))), True),
    (KEY, touch(holding("viewer")), False),  # a key cannot touch what holds more than it
    (KEY, touch(Grant(permissions=frozenset({"account_self"}), sites=frozenset({"*"}))), True),
    # Break-glass accounts: admins may see, narrow and disable them...
    (GLOBAL, touch(holding("investigator")), True),
    (GLOBAL, change(holding("investigator"), holding("investigator")), True),  # disable
    (GLOBAL, change(holding("investigator"), holding("investigator", sites=("dock",))), True),
    (GLOBAL, change(holding("investigator"), holding("viewer")), True),
    # ...but never create or widen one.
    (GLOBAL, create(holding("investigator")), False),
    (GLOBAL, change(holding("viewer"), holding("investigator")), False),
    (
        GLOBAL,
        change(holding("investigator", sites=("dock",)), holding("investigator")),
        False,
    ),
    # The same on the device axis: a break-glass account's devices may narrow, not widen.
    (
        GLOBAL,
        change(
            holding("investigator", devices=("cam-1", "cam-2")),
            holding("investigator", devices=("cam-1",)),
        ),
        True,
    ),
    (
        GLOBAL,
        change(
            holding("investigator", devices=("cam-1",)),
            holding("investigator", devices=("cam-1", "cam-2")),
        ),
        False,
    ),
    (
        GLOBAL,
        change(holding("investigator", devices=("cam-1",)), holding("investigator")),
        False,
    ),
    # What one may grant: inside one's own scope and permissions.
    (GLOBAL, create(holding("admin")), True),
    (SITE_A, create(holding("viewer", sites=("site-a",))), True),
    (SITE_A, create(holding("admin", sites=("site-a",))), True),
    (SITE_A, create(holding("admin")), False),  # a new global admin
    (SITE_A, create(holding("viewer", sites=("site-b",))), False),
    (SITE_A, create(Grant(sites=frozenset({"site-a"}), devices=frozenset())), True),
    (KEY, create(holding("viewer")), False),
    # Own account: never wider than it is.
    (SITE_A, change(holding("admin", sites=("site-a",)), holding("admin")), False),
    (
        SITE_A,
        change(holding("admin", sites=("site-a",)), holding("admin", sites=("site-a", "site-b"))),
        False,
    ),
    (who("operator"), change(holding("operator"), holding("admin")), False),  # not a manager
    # A scoped admin demoting, disabling or narrowing the global admin: not even seen.
    (SITE_A, change(holding("admin"), holding("viewer", sites=("site-a",))), False),
    (SITE_A, change(holding("admin"), holding("admin")), False),
]


@pytest.mark.parametrize(("principal", "resource", "allowed"), CASES)
def test_user_management_delegation(
    principal: Principal, resource: Resource, allowed: bool
) -> None:
    assert can(principal, MANAGE, resource) is allowed


@pytest.mark.parametrize(
    ("held", "wanted", "covered"),
    [
        ({"*"}, {"*"}, True),
        ({"*"}, {"a"}, True),
        ({"a"}, {"*"}, False),
        ({"a", "b"}, {"a"}, True),
        ({"a"}, {"a", "b"}, False),
        ({"a"}, set(), True),
    ],
)
def test_scope_covers(held: set[str], wanted: set[str], covered: bool) -> None:
    assert covers(frozenset(held), frozenset(wanted)) is covered


def test_refusal_for_a_grant_says_what_may_be_granted_without_echoing_it() -> None:
    message = refusal(SITE_A, MANAGE, create(holding("admin")))
    assert message == (
        "you can only grant a role, permissions and scope (sites, devices) that you hold yourself"
    )
    assert refusal(who("viewer"), MANAGE, create(holding("viewer"))) == (
        "your role does not allow user_management"
    )


def test_a_device_being_registered_needs_every_device_of_the_site() -> None:
    new = Resource(kind="device", site="site-a")
    assert can(SITE_A, "device_manage", new)
    assert not can(who("admin", devices=("cam-1",)), "device_manage", new)
    assert not can(who("admin", sites=("site-b",)), "device_manage", new)
    moved = Resource(kind="device", id="cam-1", site="site-a")
    assert can(who("admin", devices=("cam-1",)), "device_manage", moved)
