"""The security-testing report as one self-contained HTML page (print-friendly)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from lensguard.hardening.findings import Finding, Status

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #111; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
.pass { color: #0a6b2d; } .fail { color: #b00020; font-weight: bold; } .skip { color: #8a6d00; }
@media print { body { margin: 0; } tr { page-break-inside: avoid; } }
"""


def render(findings: list[Finding], *, target: str, when: datetime) -> str:
    """The page: what was tested, when, the counts, and every finding with its fix."""
    counts = {s: sum(f.status is s for f in findings) for s in Status}
    rows = "\n".join(
        "<tr>"
        f"<td>{escape(f.id)}</td><td>{escape(f.title)}</td><td>{escape(f.severity.value)}</td>"
        f'<td class="{f.status.value}">{escape(f.status.value)}</td><td>{escape(f.asvs)}</td>'
        f"<td>{escape(f.evidence)}</td>"
        f"<td>{escape(f.fix) if f.status is Status.FAIL else ''}</td>"
        "</tr>"
        for f in findings
    )
    summary = ", ".join(f"{counts[s]} {s.value}" for s in Status)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>lensguard security test: {escape(target)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Security test report</h1>
<p>Target: <code>{escape(target)}</code><br>Run at: {escape(when.isoformat(timespec="seconds"))}
<br>Result: {escape(summary)}</p>
<p>Requirements are OWASP ASVS 5.0. A <em>skip</em> means the test could not look
(for example, no credential was given for the authorisation walk).</p>
<table>
<thead><tr><th>Test</th><th>What</th><th>Severity</th><th>Result</th><th>ASVS</th>
<th>What was seen</th><th>Fix</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""
