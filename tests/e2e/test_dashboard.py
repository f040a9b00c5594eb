"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): the sign-in prompt, ask
with a streamed answer, flip the kill switch; the tiles, a run's own page (steps, tool calls,
approvals, verdicts, citations) and the hint on queued jobs; `/docs` and `/redoc` with no network.
Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from aegis_ray.types import (
    Answer,
    Claim,
    Completion,
    Evidence,
    RunSpec,
    RunState,
    RunStatus,
    Step,
    ToolCall,
    ToolResult,
    Usage,
    Verdict,
    new_id,
)
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
        expect(page.locator("#login")).to_be_visible(timeout=15_000)  # a prompt, not a bare 401
        page.screenshot(path=str(ARTIFACTS / "dashboard-login.png"), full_page=True)
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


def test_a_wrong_key_is_refused_with_a_message(service: tuple) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, _ = service
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(url + "/")
        page.fill("#key", "not-the-key")
        page.click("#login-button")
        expect(page.locator("#login-error")).to_contain_text("refused", timeout=15_000)
        expect(page.locator("#home")).to_be_hidden()
        browser.close()


def _seed_session_run(settings: Any) -> str:
    """A finished agent session in the service's store, as the SessionActor leaves one: a tool call
    that needed approval, its result, a verified answer with citations."""
    from aegis_ray.store import open_store

    run_id = new_id("run")
    spec = RunSpec(task="Write the capital of Australia to capital.txt and say what it is.", model="sim:sim-coder")
    evidence = Evidence(source="corpus/australia.md", span="Canberra is the capital city of Australia.")
    refuted = Evidence(source="corpus/australia.md", span="Sydney is the largest city, not the capital.")
    answer = Answer(
        text="The capital of Australia is Canberra; it is written to capital.txt.",
        claims=(Claim(text="The capital of Australia is Canberra.", citations=(evidence,)),),
        citations=(evidence,),
        verdicts=(Verdict(claim=Claim(text="The capital of Australia is Canberra.", citations=(evidence,)),
                          status="supported", method="evidence", confidence=0.97, evidence=(evidence,)),
                  Verdict(claim=Claim(text="Sydney is the capital of Australia."), status="refuted",
                          method="ensemble", confidence=0.91, evidence=(refuted,))),
        confidence=0.94)
    call = ToolCall(id="call_1", name="write_file", arguments={"path": "capital.txt", "content": "Canberra\n"})
    usage = Usage(input_tokens=412, output_tokens=57)
    steps = [
        Step(index=0, state="plan", detail="task received; tools: read_file, write_file, run_command"),
        Step(index=1, state="act", detail="1 tool call",
             completion=Completion(model="sim:sim-coder", response_model="sim-coder", tool_calls=(call,),
                                   finish_reason="tool_calls", usage=usage, simulated=True)),
        Step(index=2, state="observe", detail="1 result",
             tool_results=(ToolResult(call_id="call_1", name="write_file", ok=True, content="wrote 9 bytes"),)),
        Step(index=3, state="act", detail="answered",
             completion=Completion(model="sim:sim-coder", response_model="sim-coder", text=answer.text, usage=usage,
                                   simulated=True)),
        Step(index=4, state="verify", detail="1 supported, 1 refuted; kept"),
        Step(index=5, state="stop", detail="succeeded"),
    ]

    async def seed() -> None:
        store = await open_store(settings.database_dsn, settings.home)
        try:
            await store.create_run(run_id, spec, {"workspace": "/tmp/aegis-ws", "chain": ["sim:sim-coder"]})
            epoch = await store.claim_run(run_id, "test", 0)
            await store.request_approval(f"{run_id}/0", run_id, {"tool": "write_file", "effect": "mutating",
                                                                 "arguments": call.arguments})
            await store.decide_approval(run_id, True)
            state = RunState(run_id=run_id, spec=spec, status=RunStatus.RUNNING, model="sim:sim-coder",
                             simulated=True, usage=usage + usage, elapsed_s=1.8, turns=2)
            for step in steps:
                state.steps.append(step)
                if step is steps[-1]:
                    state.status, state.answer = RunStatus.SUCCEEDED, answer
                await store.commit_step(run_id, epoch, step, state)
        finally:
            await store.close()

    asyncio.run(seed())
    return run_id


def test_tiles_a_run_page_and_the_queued_job_hint(service: tuple) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, settings = service
    ARTIFACTS.mkdir(exist_ok=True)
    seeded = _seed_session_run(settings)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url + "/")
        page.fill("#key", SERVE_KEY)
        page.click("#login-button")
        expect(page.locator("#tile-health")).to_contain_text("healthy", timeout=15_000)
        expect(page.locator("#tile-health")).to_contain_text("CPUs")
        expect(page.locator("#tile-providers")).to_contain_text("sim:sim-honest")

        # A plain run: its id links to its own page, with the answer and its steps.
        page.fill("#task", "What is the capital of Australia?")
        page.click("#run")
        expect(page.locator("#answer")).to_have_text("Canberra.", timeout=30_000)
        page.click("#run-link")
        expect(page.locator("#run-view")).to_be_visible()
        expect(page.locator("#run-answer")).to_contain_text("Canberra.")
        expect(page.locator("#run-meta")).to_contain_text("succeeded")
        expect(page.locator("#run-meta")).to_contain_text("answer")
        expect(page.locator("#run-steps .step")).to_have_count(2)
        expect(page.locator("#run-verdicts")).to_contain_text("Not verified")
        page.screenshot(path=str(ARTIFACTS / "dashboard-run-answer.png"), full_page=True)

        # A queued job says that a worker runs it.
        page.goto(url + "/#/")
        page.fill("#task", f"What is the capital of Chile? (job {seeded})")
        page.click("#enqueue")
        expect(page.locator("#meta")).to_contain_text("enqueued 1 new job", timeout=15_000)
        expect(page.locator("#meta")).to_contain_text("start one with aegis worker")
        expect(page.locator("#queue-hint")).to_be_visible(timeout=15_000)
        expect(page.locator("#queue-hint")).to_contain_text("queued: start a worker with aegis worker")
        expect(page.locator("#runs")).to_contain_text(seeded)
        page.screenshot(path=str(ARTIFACTS / "dashboard-home.png"), full_page=True)

        # A session's page: steps with the tool call and its result, the approval, verdicts, citations.
        page.click(f"a[href='#/runs/{seeded}']")
        expect(page.locator("#run-meta")).to_contain_text("session", timeout=15_000)
        expect(page.locator("#run-steps .step")).to_have_count(6)
        expect(page.locator("#run-steps")).to_contain_text('write_file({"path":"capital.txt"')
        expect(page.locator("#run-steps")).to_contain_text("wrote 9 bytes")
        expect(page.locator("#run-approvals")).to_contain_text("write_file")
        expect(page.locator("#run-approvals")).to_contain_text("approved")
        expect(page.locator("#run-verdicts tbody tr")).to_have_count(2)
        expect(page.locator("#run-verdicts")).to_contain_text("refuted")
        expect(page.locator("#run-citations")).to_contain_text("corpus/australia.md")
        page.screenshot(path=str(ARTIFACTS / "dashboard-run-session.png"), full_page=True)

        page.goto(url + "/#/runs/run_does_not_exist")
        expect(page.locator("#run-error")).to_contain_text("404 NotFoundError", timeout=15_000)
        browser.close()
    assert all(r.startswith(url) for r in requests), "the page loaded something from outside the service"


def test_docs_and_redoc_render_with_no_network(service: tuple) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    url, _ = service
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []

    def only_the_service(route: Route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", only_the_service)
        page.goto(url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Aegis", timeout=20_000)
        expect(page.locator(".opblock-summary-path[data-path='/api/run']")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"))
        page.goto(url + "/redoc")
        expect(page.locator("h1").first).to_contain_text("Aegis", timeout=20_000)
        expect(page.get_by_text("/api/run", exact=False).first).to_be_attached()
        page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
        browser.close()
    assert outside == [], "the docs reached outside the service"
