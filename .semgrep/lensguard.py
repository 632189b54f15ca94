# Examples for `semgrep --test .semgrep/`: each `ruleid:` line must be found, each
# `ok:` line must not. Not imported by anything.
# ruff: noqa
import hmac

from aiortc import RTCConfiguration, RTCPeerConnection
from sqlalchemy import text


def compare(presented_token, stored_digest, row, name, SIGNATURE):
    # ruleid: secret-compared-with-eq
    if presented_token == row.secret_hash:
        pass
    # ruleid: secret-compared-with-eq
    if row.digest != stored_digest:
        pass
    # ok: secret-compared-with-eq
    if hmac.compare_digest(presented_token, row.secret_hash):
        pass
    # ok: secret-compared-with-eq
    if stored_digest is None or row.signature == None:
        pass
    # ok: secret-compared-with-eq
    if name == SIGNATURE:
        pass


def checks(user):
    # ruleid: assert-as-a-check
    assert user.is_admin
    # ok: assert-as-a-check
    assert user is not None
    # ok: assert-as-a-check
    assert user.start is not None and user.end is not None  # narrowed above
    # ok: assert-as-a-check
    assert isinstance(user, dict)


def peers():
    # ruleid: bare-peer-connection
    RTCPeerConnection()
    # ok: bare-peer-connection
    RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def queries(session, table, name):
    # ruleid: string-built-sql
    await session.execute(text(f"SELECT * FROM {table}"))
    # ruleid: string-built-sql
    await session.execute(text("DELETE FROM t WHERE name = '" + name + "'"))
    # ruleid: string-built-sql
    await session.exec_driver_sql(f"VACUUM {table}")
    # ok: string-built-sql
    await session.execute(text("SELECT * FROM users WHERE name = :name"), {"name": name})


def logs(log, secret, user_id):
    # ruleid: secret-in-log-call
    log.info("login", password=secret)
    # ruleid: secret-in-log-call
    log.warning("refresh", refresh_token=secret)
    # ok: secret-in-log-call
    log.info("login", user_id=user_id)
