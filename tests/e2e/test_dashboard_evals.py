"""Eval logs on the HTTP API and the dashboard: `/api/evals` lists the logs `aegis eval run` wrote,
`/api/evals/{id}` returns one (its report as HTML too), bad and unknown ids get the typed error
body; in headless Chromium the dashboard lists the eval and opens its page (screenshot kept)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from aegis_ray.config import Settings
from aegis_ray.evals import run_eval
from tests.helpers import SERVE_KEY

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).parents[2] / "examples" / "evals"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
AUTH = {"authorization": f"Bearer {SERVE_KEY}"}


@pytest.fixture(scope="module")
def eval_id(service: tuple) -> str:
    """An eval of the facts example, its log written where the service lists logs."""
    _, settings = service
    results = asyncio.run(run_eval(EXAMPLES / "facts", model="sim:sim-honest", limit=4, log_dir=settings.evals_dir,
                                   settings=Settings(home=settings.home / "eval-store")))
    return results.log.eval_id


def test_the_api_lists_and_returns_eval_logs(service: tuple, eval_id: str) -> None:
    url, _ = service
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        listed = client.get("/api/evals").json()
        [summary] = [e for e in listed if e["eval_id"] == eval_id]
        assert summary["task"] == "facts" and summary["results"] == 4 and summary["simulated"] is True
        assert "includes/accuracy" in summary["metrics"]
        log = client.get(f"/api/evals/{eval_id}").json()
        assert log["eval_id"] == eval_id and len(log["results"]) == 4
        report = client.get(f"/api/evals/{eval_id}/report")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "includes/accuracy" in report.text and "data:image/png;base64," in report.text
        bad = client.get("/api/evals/..%2F..%2Fetc%2Fpasswd")
        assert bad.status_code in (400, 404) and bad.json()["error"] in ("BadInputError", "NotFoundError")
        unknown = client.get("/api/evals/eval_0123456789abcdef")
        assert unknown.status_code == 404 and unknown.json()["error"] == "NotFoundError"
        assert "GET /api/evals" in unknown.json()["hint"]
        assert httpx.get(f"{url}/api/evals", timeout=30).status_code == 401  # no key, no list


def test_the_dashboard_lists_an_eval_and_opens_it(service: tuple, eval_id: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, _ = service
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url + "/")
        page.fill("#key", SERVE_KEY)
        page.click("#login-button")
        link = page.locator(f"#evals a[href='#/evals/{eval_id}']")
        expect(link).to_be_visible(timeout=15_000)
        expect(page.locator("#evals")).to_contain_text("includes/accuracy")
        link.click()
        expect(page.locator("#eval-view")).to_be_visible(timeout=15_000)
        expect(page.locator("#eval-task")).to_have_text("facts")
        expect(page.locator("#eval-metrics")).to_contain_text("includes/accuracy")
        expect(page.locator("#eval-results tr")).to_have_count(4)
        expect(page.locator("#eval-meta")).to_contain_text("simulated")
        page.screenshot(path=str(ARTIFACTS / "dashboard-eval.png"), full_page=True)
        browser.close()
