"""Two server processes sharing PostgreSQL and Redis, as in cluster mode."""

import re
from pathlib import Path

import pytest

from tests.harness.server import LiveServer, start_server, strong_secret

pytestmark = pytest.mark.slow


def start_pair(tmp_path: Path, pg_url: str, redis_url: str) -> tuple[LiveServer, LiveServer]:
    env = {"LENSGUARD_SECRET_KEY": strong_secret()}  # every node shares the master secret
    config = {"database": {"url": pg_url}, "redis": {"url": redis_url}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_server(tmp_path / "a", config, env=env)
    try:
        b = start_server(tmp_path / "b", config, env=env)
    except Exception:
        a.stop()
        raise
    return a, b


def test_logout_on_one_node_is_refused_on_the_other_at_once(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    a, b = start_pair(tmp_path, pg_url, redis_url)
    try:
        match = re.search(r"Username: (\S+)\s+one-time password: (\S+)", a.output() + b.output())
        assert match is not None, "the first node creates the first admin"
        username, password = match.groups()
        with a.client() as node_a, b.client() as node_b:
            tokens = node_a.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            ).json()
            auth = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert node_b.get("/api/v1/users/me", headers=auth).status_code == 200
            assert node_b.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}

            assert node_a.post("/api/v1/auth/logout", headers=auth).status_code == 204
            # The very next request on the other node is refused: no propagation delay.
            assert node_b.get("/api/v1/users/me", headers=auth).status_code == 401
            refresh = node_b.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refresh.status_code == 401
            # Keys are shared: a token issued by B verifies on A.
            again = node_b.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            ).json()
            auth = {"Authorization": f"Bearer {again['access_token']}"}
            assert node_a.get("/api/v1/users/me", headers=auth).status_code == 200
    finally:
        a.stop()
        b.stop()
