"""``deploy render nginx``: a complete nginx.conf that ``nginx -t`` accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lensguard.api import signal
from lensguard.guard.body import UPLOAD_PATH
from lensguard.guard.headers import BASE_HEADERS, HSTS
from tests.deploy.conftest import render, run, self_signed, tool, write_config

pytestmark = pytest.mark.process  # runs nginx -t as a child process


def rendered(tmp_path: Path, *args: str, **overrides: object) -> str:
    cert, key = self_signed(tmp_path)
    encryption = {"certificate": str(cert), "key": str(key)}
    security = {"encryption": encryption}
    config = write_config(tmp_path, security=security, **overrides)
    code, out, err = render(config, "nginx", *args)
    assert code == 0, err
    return out


def nginx_test(tmp_path: Path, text: str) -> tuple[int, str]:
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    checked = run(tool("nginx"), "-t", "-q", "-c", str(conf))
    return checked.returncode, checked.stderr


def test_the_rendered_file_passes_nginx_t_and_a_broken_one_does_not(tmp_path: Path) -> None:
    text = rendered(tmp_path, "--server-name", "video.example.org")
    code, err = nginx_test(tmp_path, text)
    assert code == 0, err
    # The validator really reads the file: a bad TLS version, and a missing certificate.
    code, err = nginx_test(tmp_path, text.replace("ssl_protocols TLSv1.2", "ssl_protocols TLSv0.9"))
    assert code != 0 and "TLSv0.9" in err
    (tmp_path / "cert.pem").unlink()
    code, err = nginx_test(tmp_path, text)
    assert code != 0 and "cert.pem" in err


def test_tls_12_and_13_only_with_hsts_and_the_apps_own_headers(tmp_path: Path) -> None:
    text = rendered(tmp_path)
    assert re.findall(r"^ +ssl_protocols ([^;]+);", text, re.MULTILINE) == ["TLSv1.2 TLSv1.3"]
    assert f'add_header Strict-Transport-Security "{HSTS}" always;' in text
    for name, value in BASE_HEADERS.items():
        assert f'add_header {name} "{value}" always;' in text
        assert f"proxy_hide_header {name};" in text  # no second copy from the app
    assert "server_tokens off;" in text


def test_a_tls_13_floor_is_kept(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    encryption = {"certificate": str(cert), "key": str(key), "protocol": "TLSv1.3"}
    config = write_config(tmp_path, security={"encryption": encryption})
    code, text, err = render(config, "nginx")
    assert code == 0, err
    assert re.findall(r"^ +ssl_protocols ([^;]+);", text, re.MULTILINE) == ["TLSv1.3"]
    assert nginx_test(tmp_path, text)[0] == 0


def test_the_signaling_socket_is_upgraded_on_the_apps_real_path(tmp_path: Path) -> None:
    text = rendered(tmp_path, server={"port": 9443, "host": "127.0.0.1"})
    (path,) = [route.path for route in signal.router.routes]  # type: ignore[attr-defined]
    block = text.split(f"location = {path} {{", 1)[1].split("}", 1)[0]
    assert "proxy_set_header Upgrade $http_upgrade;" in block
    assert "proxy_set_header Connection $connection_upgrade;" in block
    assert "server 127.0.0.1:9443;" in text
    assert "proxy_pass https://lensguard;" in block


def test_rate_limits_follow_the_settings(tmp_path: Path) -> None:
    text = rendered(tmp_path, limits={"requests_per_minute": 120, "max_body_bytes": 2048})
    assert "zone=lensguard_api:10m rate=120r/m;" in text
    assert "client_max_body_size 2048;" in text
    login = text.split("location = /api/v1/auth/login {", 1)[1].split("}", 1)[0]
    assert "limit_req zone=lensguard_login" in login
    assert "limit_req_status 429;" in text


def test_without_a_certificate_it_says_which_setting_to_set(tmp_path: Path) -> None:
    code, out, err = render(write_config(tmp_path), "nginx")
    assert code == 2 and out == ""
    assert "security.encryption.certificate" in err


def test_evidence_uploads_get_their_own_body_limit_on_the_apps_path(tmp_path: Path) -> None:
    incidents = {"attachment_max_bytes": 5_000_000}
    text = rendered(tmp_path, limits={"max_body_bytes": 2048}, incidents=incidents)
    (pattern,) = re.findall(r"location ~ (\S+) \{", text)
    block = text.split(f"location ~ {pattern} {{", 1)[1].split("}", 1)[0]
    assert "client_max_body_size 5000000;" in block
    assert "proxy_pass https://lensguard;" in block
    path = "/api/v1/incidents/0123abcd/attachments"
    assert re.fullmatch(pattern.strip("^$"), path) and UPLOAD_PATH.fullmatch(path)
    assert not re.fullmatch(pattern.strip("^$"), path + "/x")
    assert nginx_test(tmp_path, text)[0] == 0
