import io
import json
import logging

import pytest

from lensguard.logs import MASK, configure_logging, get_logger, mask_text

JWT = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6IjEifQ."
    "eyJzdWIiOiJhZGEiLCJleHAiOjE3MDAwMDAwMDB9."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)
API_KEY = "lg_k1a2b3c4_Zm9vYmFyLXNlY3JldC1wYXJ0LTEyMzQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT} seen", JWT),
        (f"key={API_KEY}", API_KEY),
        (f"used {API_KEY} from 10.0.0.1", API_KEY),
        ("POST /login password=hunter2hunter2&user=ada", "hunter2hunter2"),
        ('{"password": "hunter2hunter2", "user": "ada"}', "hunter2hunter2"),
        ("Basic YWRhOmh1bnRlcjI=", "YWRhOmh1bnRlcjI="),
        ("secret: s3cr3t-v4lue-here", "s3cr3t-v4lue-here"),
    ],
)
def test_mask_text_removes_secrets(text: str, secret: str) -> None:
    masked = mask_text(text)
    assert secret not in masked
    assert MASK in masked


def test_mask_text_keeps_ordinary_text() -> None:
    text = "GET /api/v1/devices 200 from 127.0.0.1 user=ada"
    assert mask_text(text) == text


def capture(level: str = "INFO") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    return stream


def test_structured_fields_named_secret_are_masked() -> None:
    stream = capture()
    get_logger("t").info(
        "login",
        username="ada",
        password="hunter2hunter2",
        headers={"Authorization": f"Bearer {JWT}", "Accept": "application/json"},
        api_key=API_KEY,
        token_expiry=900,
    )
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["username"] == "ada"
    assert line["password"] == MASK
    assert line["headers"]["Authorization"] == MASK
    assert line["headers"]["Accept"] == "application/json"
    assert line["api_key"] == MASK
    assert line["token_expiry"] == 900
    assert "hunter2" not in stream.getvalue() and JWT not in stream.getvalue()


def test_standard_library_records_are_masked_and_json() -> None:
    stream = capture()
    logging.getLogger("uvicorn.access").info("GET /x?token=%s 200", JWT)
    out = stream.getvalue()
    assert JWT not in out
    record = json.loads(out.strip().splitlines()[-1])
    assert record["logger"] == "uvicorn.access"


def test_exception_messages_are_masked() -> None:
    stream = capture()
    try:
        raise ValueError(f"cannot parse password=hunter2hunter2 with {API_KEY}")
    except ValueError:
        get_logger("t").exception("failed")
    out = stream.getvalue()
    assert "hunter2hunter2" not in out and API_KEY not in out
    assert "ValueError" in out


def test_ice_libraries_speak_at_info_only_when_debugging() -> None:
    import io
    import logging

    from lensguard.logs import configure_logging

    try:
        configure_logging("INFO", stream=io.StringIO())
        assert not logging.getLogger("aioice.ice").isEnabledFor(logging.INFO)
        assert logging.getLogger("aioice.ice").isEnabledFor(logging.WARNING)
        configure_logging("DEBUG", stream=io.StringIO())
        assert logging.getLogger("aiortc").isEnabledFor(logging.DEBUG)
    finally:
        configure_logging("INFO")
