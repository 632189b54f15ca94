"""Compliance reports: each framework's controls mapped to evidence from live data.

``build_report(framework, period)`` runs the collectors a framework's controls name
(``evidence.py``) once each and gives every control the worst status of its evidence:
``gap`` over ``no_evidence`` over ``evidenced``. The report never says "compliant": it
says what the data shows, control by control, and where it shows nothing. ``as_html``
renders it as one page with print CSS. docs/privacy.md lists the mappings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from lensguard.privacy.evidence import COLLECTORS, RANK, Evidence, Period, Sources

SCHEMA = "lensguard-compliance-report/1"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    evidence: tuple[str, ...]


def _c(ident: str, title: str, *evidence: str) -> Control:
    return Control(ident, title, evidence)


FRAMEWORKS: dict[str, tuple[str, tuple[Control, ...]]] = {
    "gdpr": (
        "GDPR (EU 2016/679)",
        (
            _c("Art. 5(1)(e)", "Storage limitation", "retention"),
            _c("Art. 15, 20", "Right of access and portability", "subject_requests"),
            _c("Art. 17", "Right to erasure", "erasure"),
            _c("Art. 30", "Records of processing activities", "record_of_processing"),
            _c(
                "Art. 32",
                "Security of processing",
                "recordings_encrypted",
                "personal_fields_encrypted",
                "transport_tls",
                "audit_chain",
            ),
            _c("Art. 33", "Notification of a breach within 72 hours", "breach_notification"),
        ),
    ),
    "hipaa": (
        "HIPAA Security Rule (45 CFR 164)",
        (
            _c(
                "164.308(a)(1)(ii)(D)",
                "Information system activity review",
                "access_reviews",
                "audit_activity",
            ),
            _c("164.308(a)(6)", "Security incident procedures", "incident_response"),
            _c(
                "164.312(a)(2)(iv)",
                "Encryption and decryption",
                "recordings_encrypted",
                "personal_fields_encrypted",
            ),
            _c("164.312(b)", "Audit controls", "audit_chain", "audit_activity"),
            _c("164.312(d)", "Person or entity authentication", "mfa_privileged"),
            _c("164.312(e)(1)", "Transmission security", "transport_tls"),
        ),
    ),
    "sox": (
        "SOX 404 IT general controls",
        (
            _c("ITGC access-1", "Periodic review of user access", "access_reviews"),
            _c("ITGC access-2", "Privileged access is strongly authenticated", "mfa_privileged"),
            _c("ITGC logging-1", "Changes and access are logged", "audit_activity"),
            _c("ITGC logging-2", "The log cannot be altered unseen", "audit_chain"),
        ),
    ),
    "pci": (
        "PCI DSS v4.0",
        (
            _c(
                "3.5",
                "Stored data is rendered unreadable",
                "recordings_encrypted",
                "personal_fields_encrypted",
            ),
            _c("4.2", "Strong cryptography in transit", "transport_tls"),
            _c("7.2.4", "User accounts and access privileges are reviewed", "access_reviews"),
            _c("8.4", "Multi-factor authentication", "mfa_privileged"),
            _c("10.2", "Audit logs record user activity", "audit_activity"),
            _c("10.3", "Audit logs are protected from modification", "audit_chain"),
            _c("12.10", "Incident response", "incident_response"),
        ),
    ),
}


class UnknownFramework(ValueError):
    """A framework name that is not one of ``FRAMEWORKS``; the message lists them."""


def framework(name: str) -> str:
    """``name`` when it is a known framework; UnknownFramework listing the known ones."""
    if name not in FRAMEWORKS:
        known = ", ".join(sorted(FRAMEWORKS))
        raise UnknownFramework(f"unknown framework {name!r}; choose one of: {known}")
    return name


def _worst(items: list[Evidence]) -> str:
    return max((e.status for e in items), key=RANK.__getitem__)


async def build_report(
    name: str, sources: Sources, period: Period, *, now: datetime
) -> dict[str, Any]:
    """The report of framework ``name`` over ``period`` (JSON-ready)."""
    title, controls = FRAMEWORKS[framework(name)]
    if period.start >= period.end:
        raise ValueError("the period must end after it starts")
    wanted = sorted({e for control in controls for e in control.evidence})
    found = {key: await COLLECTORS[key](sources, period) for key in wanted}
    shown = []
    for control in controls:
        items = [found[key] for key in control.evidence]
        shown.append(
            {
                "id": control.id,
                "title": control.title,
                "status": _worst(items),
                "evidence": [
                    {"name": e.name, "status": e.status, "summary": e.summary, "facts": e.facts}
                    for e in items
                ],
            }
        )
    summary = {status: sum(1 for c in shown if c["status"] == status) for status in RANK}
    return {
        "schema": SCHEMA,
        "framework": name,
        "title": title,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "generated_at": now.isoformat(),
        "summary": summary,
        "controls": shown,
    }


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#111}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:.4rem .5rem;vertical-align:top;text-align:left}
.evidenced{background:#e6f4ea}.gap{background:#fde7e7}.no_evidence{background:#f1f1f1}
.status{font-weight:600;white-space:nowrap}small{color:#555}
@media print{body{margin:0;font-size:11px}tr{break-inside:avoid}a{color:inherit}}
"""


def as_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (no scripts, print-friendly)."""
    rows = []
    for control in report["controls"]:
        items = "".join(
            f"<li><b>{escape(e['name'])}</b> ({escape(e['status'])}): {escape(e['summary'])}</li>"
            for e in control["evidence"]
        )
        rows.append(
            f'<tr class="{escape(control["status"])}"><td>{escape(control["id"])}</td>'
            f"<td>{escape(control['title'])}</td>"
            f'<td class="status">{escape(control["status"].replace("_", " "))}</td>'
            f"<td><ul>{items}</ul></td></tr>"
        )
    s = report["summary"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report['title'])} report</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(report['title'])}: evidence from lensguard</h1>"
        f"<p>Period {escape(report['from'])} to {escape(report['to'])}; generated "
        f"{escape(report['generated_at'])}. {s['evidenced']} controls evidenced, "
        f"{s['gap']} with a gap, {s['no_evidence']} without evidence in the period.</p>"
        "<p><small>Each status is what the live data shows; it is not a certification."
        "</small></p><table><thead><tr><th>control</th><th>requirement</th><th>status</th>"
        f"<th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
