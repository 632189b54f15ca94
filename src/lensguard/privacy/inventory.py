"""The record of processing (GDPR Art. 30) built from the registry and the settings.

JSON schema (``schema`` = ``lensguard.privacy.inventory/1``)::

    {"schema": str, "places": {place: description},
     "tables": [{"table": str, "purpose": str, "retention": str, "where": [place],
                 "columns": {"personal"|"sensitive"|"public": [
                     {"name": str, "why": str, "encrypted": bool, "retention": str,
                      "note": str}]}}],
     "not_yet_encrypted": ["table.column"]}

``places`` maps each place named in ``where`` to where it is under these settings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url

from lensguard.privacy.classes import DataClass
from lensguard.privacy.registry import HASHED, NOT_YET_ENCRYPTED, REGISTRY
from lensguard.settings import Settings

SCHEMA = "lensguard.privacy.inventory/1"


def places(settings: Settings) -> dict[str, str]:
    """Where each storage place is under ``settings`` (no passwords)."""
    if settings.database.url:
        database = make_url(settings.database.url).render_as_string(hide_password=True)
    else:
        database = f"SQLite file {settings.var_dir / 'lensguard.db'}"
    rec = settings.recordings
    if rec.storage == "s3":
        segments = f"S3 bucket {rec.s3.bucket}, keys under {rec.s3.prefix or '/'}"
    else:
        segments = f"local files under {settings.var_dir / 'recordings'}"
    checkpoints = settings.audit.export_file or settings.var_dir / "audit-checkpoints.jsonl"
    return {
        "database": database,
        "segment_store": f"{segments} (each segment encrypted with its own wrapped key)",
        "audit_checkpoints": f"JSON Lines file {checkpoints}",
        "var_dir": f"{settings.var_dir} (SQLite database by default, TLS material, "
        "local recordings, audit checkpoints)",
    }


def inventory(settings: Settings) -> dict[str, Any]:
    """The whole record, as plain data (the JSON format above)."""
    tables: list[dict[str, Any]] = []
    for name in sorted(REGISTRY):
        entry = REGISTRY[name]
        columns: dict[str, list[dict[str, Any]]] = {c.value: [] for c in DataClass}
        for col_name, spec in entry.columns.items():
            columns[spec.cls.value].append(
                {
                    "name": col_name,
                    "why": spec.why,
                    "encrypted": spec.encrypted,
                    "retention": spec.retention or entry.retention,
                    "note": spec.note,
                }
            )
        tables.append(
            {
                "table": name,
                "purpose": entry.purpose,
                "retention": entry.retention,
                "where": list(entry.where),
                "columns": columns,
            }
        )
    return {
        "schema": SCHEMA,
        "places": places(settings),
        "tables": tables,
        "not_yet_encrypted": sorted(NOT_YET_ENCRYPTED),
    }


def encryption_status(table: dict[str, Any]) -> str:
    """One line: how much of the table's personal and sensitive data is encrypted."""
    parts = []
    for cls in (DataClass.PERSONAL, DataClass.SENSITIVE):
        cols = table["columns"][cls.value]
        if cols:
            enc = sum(1 for c in cols if c["encrypted"])
            hashed = sum(1 for c in cols if c["note"] == HASHED)
            text = f"{cls.value}: {enc}/{len(cols)} encrypted"
            parts.append(f"{text}, {hashed} hashed" if hashed else text)
    if "segment_store" in table["where"]:
        parts.append("video: encrypted")
    return "; ".join(parts) or "nothing personal"


def markdown(data: dict[str, Any]) -> str:
    """The record as a Markdown document."""
    lines = ["# Record of processing (GDPR Art. 30)", "", "## Where", ""]
    lines += [f"- **{k}**: {v}" for k, v in data["places"].items()]
    lines += ["", "## Tables", ""]
    for t in data["tables"]:
        lines += [f"### {t['table']}", "", f"- Why: {t['purpose']}"]
        lines += [f"- Retention: {t['retention']}", f"- Where: {', '.join(t['where'])}"]
        lines += [f"- Encryption: {encryption_status(t)}"]
        for cls, cols in t["columns"].items():
            if cols:
                names = ", ".join(f"`{c['name']}`" for c in cols)
                lines.append(f"- {cls.capitalize()}: {names}")
        lines.append("")
    lines += ["## Personal columns not yet encrypted", ""]
    lines += [f"- `{k}`" for k in data["not_yet_encrypted"]]
    return "\n".join(lines) + "\n"
