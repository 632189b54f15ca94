import httpx

from lensguard.guard.headers import CSP


async def test_security_headers_on_success(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    h = response.headers
    assert h["strict-transport-security"].startswith("max-age=")
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert "camera=(self)" in h["permissions-policy"]
    assert "microphone=(self)" in h["permissions-policy"]
    assert h["content-security-policy"] == CSP


async def test_csp_forbids_inline_and_eval(client: httpx.AsyncClient) -> None:
    csp = (await client.get("/healthz")).headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp


async def test_security_headers_on_errors(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


async def test_openapi_is_served_and_docs_ui_is_not(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["info"]["title"] == "lensguard"
    assert "/healthz" in doc["paths"]
    assert (await client.get("/docs")).status_code == 404
