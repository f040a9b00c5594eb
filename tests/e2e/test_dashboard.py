"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): ask with a streamed
answer, flip the kill switch; a screenshot is kept in test-artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import SERVE_KEY

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_dashboard_asks_streams_and_flips_the_kill_switch(service: tuple) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, _ = service
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url + "/")
        page.fill("#key", SERVE_KEY)
        page.dispatch_event("#key", "change")
        page.fill("#task", "What is the capital of the United Arab Emirates?")
        page.click("#stream")
        expect(page.locator("#answer")).to_have_text("Abu Dhabi.", timeout=30_000)
        expect(page.locator("#meta")).to_contain_text("(simulated)")
        page.click("#stop")
        expect(page.locator("#switch")).to_have_text("stopped", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        page.click("#resume")
        expect(page.locator("#switch")).to_have_text("running", timeout=15_000)
        browser.close()
    assert all(r.startswith(url) for r in requests), "the page loaded something from outside the service"
