"""Access rules: privilege escalation, lateral movement, a device credential shared."""

from __future__ import annotations

from typing import ClassVar

from lensguard.threats.detector_settings import (
    DeviceCredentialRule,
    EscalationRule,
    LateralMovementRule,
)
from lensguard.threats.observation import Observation
from lensguard.threats.rule import Finding, crossed, over
from lensguard.threats.windows import Windows

DENIED = "access.denied"
OVERRIDE_REFUSED = "redaction.override_refused"
PRIVILEGED_ACTIONS = frozenset(
    {
        "system_config",
        "user_management",
        "security_manage",
        "compliance_manage",
        "audit_read",
        "device_manage",
        "redaction_override",
    }
)
"""Refusals of these are attempts to act above one's role (or to widen a scope)."""
DEVICE_SEEN = frozenset({"stream.publish"})


def _escalating(event: Observation) -> bool:
    if event.type == OVERRIDE_REFUSED or event.fields.get("escalation") is True:
        return True
    return event.type == DENIED and event.text("action") in PRIVILEGED_ACTIONS


class Escalation:
    """``attempts`` refused privileged actions by one principal (``privilege_escalation``)."""

    name: ClassVar[str] = "escalation"
    kinds: ClassVar[tuple[str, ...]] = ("privilege_escalation",)
    types: ClassVar[frozenset[str]] = frozenset({DENIED, OVERRIDE_REFUSED, "user.change_refused"})

    def __init__(self, rule: EscalationRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        source = event.account or event.address
        if source is None or not _escalating(event):
            return []
        ids = await crossed(
            windows,
            f"pe:{source}",
            event,
            window=float(self.rule.window_seconds),
            threshold=self.rule.attempts,
        )
        if ids is None:
            return []
        score = over(len(ids), self.rule.attempts)
        details = {"action": event.text("action")}
        return [Finding("privilege_escalation", score, event.address, event.account, ids, details)]


class LateralMovement:
    """Refusals on ``resources`` different resources by one principal (``lateral_movement``)."""

    name: ClassVar[str] = "lateral_movement"
    kinds: ClassVar[tuple[str, ...]] = ("lateral_movement",)
    types: ClassVar[frozenset[str]] = frozenset({DENIED, "signal.subscribe_refused"})

    def __init__(self, rule: LateralMovementRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        source = event.account
        if source is None:
            return []
        target = ":".join(
            part or "-"
            for part in (
                event.text("resource_kind"),
                event.text("resource_id") or event.text("device_id"),
                event.text("action"),
            )
        )
        rule = self.rule
        seen = await windows.distinct(
            f"lm:{source}", target, event.at, float(rule.window_seconds), rule.resources
        )
        if seen < rule.resources:
            return []
        details = {"resources": seen}
        return [Finding("lateral_movement", 0.8, event.address, source, (event.id,), details)]


class DeviceCredential:
    """One device credential in use from ``addresses`` addresses within the window
    (``device_credential_shared``: a copied credential, or a cloned device)."""

    name: ClassVar[str] = "device_credential"
    kinds: ClassVar[tuple[str, ...]] = ("device_credential_shared",)
    types: ClassVar[frozenset[str]] = DEVICE_SEEN

    def __init__(self, rule: DeviceCredentialRule) -> None:
        self.rule = rule

    async def observe(self, event: Observation, windows: Windows) -> list[Finding]:
        device = event.text("device_id") or event.account
        if device is None or event.address is None:
            return []
        rule = self.rule
        key = f"dc:{device}"
        seen = await windows.distinct(
            key, event.address, event.at, float(rule.window_seconds), rule.addresses
        )
        if seen < rule.addresses:
            return []
        addresses = await windows.members(key, event.at, float(rule.window_seconds))
        details = {"device_id": device, "addresses": addresses}
        ids = (event.id,)
        return [Finding("device_credential_shared", 0.85, event.address, device, ids, details)]
