"""`aegis eval view LOG --html FILE` in a real headless Chromium (Debian's, driven by Playwright): the
page renders with no network, its plots are images that load, the metrics and every result are on
it, and text from the samples is escaped, not markup. The screenshot is kept in test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from aegis_ray.config import Settings
from aegis_ray.evals import run_eval
from tests.helpers import aegis, clean_env

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def an_eval_log(tmp_path: Path) -> Path:
    """A verified eval (so results carry a confidence) over a dataset holding a would-be script tag."""
    data = tmp_path / "task"
    data.mkdir()
    rows = [{"input": "What is the capital of Australia?", "target": "Canberra"},
            {"input": "What is the capital of Peru?", "target": "Lima"},
            {"input": "What is 2 + 2? <script>document.title='pwned'</script>", "target": "4"},
            {"input": "What is the capital of Chile?", "target": "Santiago"}]
    (data / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "task.toml").write_text('name = "html-check"\ndataset = "samples.jsonl"\n'
                                    'solver = { name = "verified" }\n[[scorers]]\nname = "includes"\n')
    results = asyncio.run(run_eval(data, model="sim:sim-honest", log_dir=tmp_path / "logs",
                                   settings=Settings(home=tmp_path)))
    assert results.path is not None
    return results.path


def test_the_html_report_renders_offline_with_its_plots(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    log = an_eval_log(tmp_path)
    page_path = tmp_path / "report.html"
    viewed = aegis("eval", "view", str(log), "--html", str(page_path), env=clean_env(AEGIS_HOME=str(tmp_path)))
    assert viewed.returncode == 0, viewed.stderr
    assert "includes/accuracy" in viewed.stdout and str(page_path) in viewed.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.alt])")
        text = page.inner_text("body")
        title = page.title()
        page.screenshot(path=str(ARTIFACTS / "eval-report.png"), full_page=True)
        browser.close()
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []  # nothing from the network
    assert len(images) >= 3, images  # scores, latency, cost; risk-coverage with confidences
    assert all(complete and width > 0 for complete, width, _ in images), images
    assert any("risk" in alt for _, _, alt in images)
    assert "includes/accuracy" in text and "Canberra" in text and "SIMULATED" in text
    assert "<script>document.title='pwned'</script>" in text and title != "pwned"  # shown, not run
