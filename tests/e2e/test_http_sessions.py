"""Agent sessions over HTTP, as a client uses them with httpx (the official SDKs' transport): start a
session on the simulated coder, read its server-sent events, approve its parked tool calls, continue
it with a follow-up that needs the earlier turn; another tenant sees none of it (404); the kill
switch refuses new sessions and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import tenant_clients

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clients(service: tuple) -> Iterator[dict[str, httpx.Client]]:
    with tenant_clients(*service, ("acme", "globex")) as made:
        yield made


def events(client: httpx.Client, turn: dict) -> list[tuple[str, dict]]:
    """The turn's server-sent events, read as they stream, until the stream ends (with the result)."""
    read: list[tuple[str, dict]] = []
    with client.stream("GET", turn["events"]) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                read.append((kind or "message", json.loads(line.removeprefix("data: "))))
    return read


def approve_until_done(client: httpx.Client, turn: dict) -> tuple[dict, list[tuple[str, dict]]]:
    """Read the turn's events; approve each time it parks; the final result and every event read."""
    seen: list[tuple[str, dict]] = []
    while True:
        read = events(client, turn)
        seen += read
        kind, last = read[-1]
        assert kind == "result", read[-3:]
        if last["result"]["status"] != "awaiting_approval":
            return last["result"], seen
        asked = [data for kind, data in read if kind == "approval"]
        assert asked and asked[0]["request"]["tool"] in ("write_file", "run_command", "run_python")
        decision = client.post(f"/api/sessions/{turn['session_id']}/approvals", json={"approved": True}).json()
        assert decision["decided"] >= 1 and decision["turn"] is not None
        turn = decision["turn"]


def test_a_session_streams_its_events_parks_on_approvals_and_goes_on_with_a_follow_up(
        clients: dict[str, httpx.Client]) -> None:
    acme = clients["acme"]
    started = acme.post("/api/sessions", json={"task": "Compute the 20th Fibonacci number", "approve": "ask"})
    assert started.status_code == 200, started.text
    turn = started.json()
    session_id = turn["session_id"]
    result, seen = approve_until_done(acme, turn)
    assert result["status"] == "succeeded" and "6765" in result["answer"]["text"]
    kinds = [kind for kind, _ in seen]
    assert {"step", "approval", "result"} <= set(kinds) and "text" in kinds  # the answer streamed as written
    steps = [data["step"]["state"] for kind, data in seen if kind == "step"]
    assert steps[0] == "plan" and "observe" in steps and steps[-1] == "stop"

    follow = acme.post(f"/api/sessions/{session_id}/messages", json={"text": "What is that number plus 1?"})
    assert follow.status_code == 200, follow.text
    result, seen = approve_until_done(acme, follow.json())
    assert result["status"] == "succeeded" and "6766" in result["answer"]["text"]
    first = next(data["step"] for kind, data in seen if kind == "step")
    assert first["state"] == "user" and first["index"] == follow.json()["after"] + 1  # this turn's events only

    detail = acme.get(f"/api/runs/{session_id}").json()
    assert detail["kind"] == "session" and detail["spec"]["tenant"] == "acme"
    assert detail["approvals"] and all(a["approved"] for a in detail["approvals"])
    replay = events(acme, {"events": f"/api/sessions/{session_id}/events"})  # the whole session, from the store
    assert [k for k, _ in replay].count("step") == len(detail["steps"]) and replay[-1][0] == "result"


def test_another_tenant_gets_404_for_every_session_route(clients: dict[str, httpx.Client]) -> None:
    acme, globex, admin = clients["acme"], clients["globex"], clients["admin"]
    turn = acme.post("/api/sessions", json={"task": "What is 6 * 7?", "approve": "deny", "profile": "coding"}).json()
    session_id = turn["session_id"]
    for method, path, body in (("GET", f"/api/sessions/{session_id}/events", None),
                               ("POST", f"/api/sessions/{session_id}/messages", {"text": "and plus 1?"}),
                               ("POST", f"/api/sessions/{session_id}/approvals", {"approved": True}),
                               ("GET", f"/api/runs/{session_id}", None)):
        hidden = globex.request(method, path, json=body)
        assert hidden.status_code == 404 and hidden.json()["error"] == "NotFoundError", (path, hidden.text)
    assert events(acme, turn)[-1][0] == "result"
    assert admin.get(f"/api/runs/{session_id}").status_code == 200  # an admin sees every tenant's
    assert session_id not in {r["run_id"] for r in globex.get("/api/runs").json()}
    unknown = acme.post("/api/sessions", json={"task": "hi", "profile": "no-such-profile"})
    assert unknown.status_code == 400 and "coding" in unknown.json()["hint"]


def test_the_kill_switch_refuses_new_sessions_and_messages(clients: dict[str, httpx.Client]) -> None:
    acme, admin = clients["acme"], clients["admin"]
    turn = acme.post("/api/sessions", json={"task": "What is 2 + 2?", "approve": "deny"}).json()
    assert events(acme, turn)[-1][0] == "result"
    try:
        assert admin.post("/api/control/stop").json()["kill_switch"] == "stopped"
        refused = acme.post("/api/sessions", json={"task": "What is 3 + 3?"})
        assert refused.status_code == 503 and "kill switch" in refused.json()["detail"]
        message = acme.post(f"/api/sessions/{turn['session_id']}/messages", json={"text": "and plus 1?"})
        assert message.status_code == 503
    finally:
        assert admin.post("/api/control/resume").json()["kill_switch"] == "running"
