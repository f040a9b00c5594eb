"""The FastAPI app in-process (no Ray): `/docs` and `/redoc` need no network, and every error, HTTP-level
ones included, answers with the same `ErrorBody` {detail, hint, error}. (In Chromium: tests/e2e.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serve_app.api import DOCS_FILES, Runtime, create_app
from serve_app.auth import Authenticator, StaticKey

pytestmark = pytest.mark.integration

KEY = "docs-test-key"


@pytest.fixture
def client() -> Iterator[TestClient]:
    saved = Runtime.service, Runtime.auth
    Runtime.service = object()  # type: ignore[assignment]  # never reached
    Runtime.auth = Authenticator([StaticKey(tenant="default", key=KEY, admin=True)])
    with TestClient(create_app()) as client:
        yield client
    Runtime.service, Runtime.auth = saved


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_app(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and "Aegis" in html.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
    urls += re.findall(r"url: '([^']+)'", html.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "cdn." not in html.text and "fonts.googleapis" not in html.text
    assert "default-src 'self'" in html.headers["content-security-policy"]  # nothing else may load either
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
    assert client.get("/openapi.json").json()["info"]["title"] == "Aegis"


def test_the_docs_assets_are_the_real_bundles(client: TestClient) -> None:
    for name, media in DOCS_FILES.items():
        asset = client.get(f"/docs-assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        assert len(asset.content) > 1000
    assert b"SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").content
    assert b"Redoc" in client.get("/docs-assets/redoc.standalone.js").content
    missing = client.get("/docs-assets/..%2Fcore.py")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"


def test_every_error_has_one_body(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    refused = client.get("/api/runs")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"] == "UnauthorizedError" and "AEGIS_API_KEY" in refused.json()["hint"]
    assert "API key" in refused.json()["detail"]
    no_route = client.get("/api/nothing-here", headers=auth)
    assert no_route.status_code == 404 and no_route.json()["error"] == "NotFoundError" and "/docs" in no_route.json()[
        "hint"]
    wrong_method = client.delete("/api/run", headers=auth)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "MethodNotAllowedError"
    invalid = client.post("/api/run", json={"model": "sim:sim-honest"}, headers=auth)
    body = invalid.json()
    assert invalid.status_code == 422 and body["error"] == "ValidationError"
    assert body["detail"][0]["loc"] == ["body", "task"] and body["hint"].startswith("body.task: Field required")
    blank = client.post("/api/run", json={"task": "  "}, headers=auth).json()
    assert blank["hint"].startswith("body.task: the task is empty")
    for response in (refused, no_route, wrong_method, invalid):
        assert set(response.json()) == {"detail", "hint", "error"}, response.text


def test_the_schema_declares_the_error_body_and_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    run = schema["paths"]["/api/run"]["post"]
    for code in ("401", "422", "503"):
        assert run["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert run["security"] == [{"HTTPBearer": []}]
