"""Structured JSON logs with secrets masked wherever they appear.

Masking runs twice: on keys (any field whose name says it holds a secret) and on
values (bearer tokens, JWTs, API keys and ``password=...`` pairs inside free text,
such as an access-log line or an exception message). Standard-library loggers
(uvicorn, alembic) are routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

MASK = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[_-]?key|cookie|"
    r"credential|otp|totp|private|pepper|signature|^key$|_key$)",
    re.IGNORECASE,
)
_SECRET_TEXT = [
    # Authorization header values and bearer tokens inside text.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    # JWT-shaped strings (three base64url segments, header starting with '{"').
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"),
    # lensguard API keys: lg_<key-id>_<secret>.
    re.compile(r"\blg_[A-Za-z0-9]+_[A-Za-z0-9_-]+"),
    # key=value / "key": "value" pairs whose key says secret.
    re.compile(
        r"(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|otp|credential)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
    ),
]


def mask_text(text: str) -> str:
    """Replace every secret-looking run inside ``text`` with ``***``."""
    for pattern in _SECRET_TEXT:
        if pattern.groups:
            text = pattern.sub(lambda m: f"{m.group(1)}{MASK}", text)
        else:
            text = pattern.sub(MASK, text)
    return text


def _mask_value(key: str | None, value: Any) -> Any:
    if (
        key is not None
        and _SECRET_KEY.search(key)
        and not isinstance(value, (bool, int, float, type(None)))
        and value not in ("", MASK)
    ):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(None, v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return mask_text(bytes(value).decode("utf-8", "replace"))
    return value


def mask_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret fields and secret-looking text."""
    for key in list(event_dict):
        event_dict[key] = _mask_value(None if key == "event" else key, event_dict[key])
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library to one JSON stream, masked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                mask_secrets,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # aioice and aiortc narrate every candidate pair and state change at INFO: that is
    # debugging detail, shown only when the level asks for DEBUG.
    chatty = logging.DEBUG if str(level).upper() == "DEBUG" else logging.WARNING
    for name in ("aioice", "aiortc"):
        logging.getLogger(name).setLevel(chatty)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger bound to ``name``."""
    return structlog.get_logger(name)
