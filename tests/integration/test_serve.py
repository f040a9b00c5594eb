"""The Ray Serve app, over real HTTP: OpenAI SDK, auth on every route, validation, the kill switch."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from aegis_ray.config import Settings
from tests.helpers import SERVE_KEY, deploy_aegis

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ray_cluster")]

ROUTES = [
    ("POST", "/api/run", {"task": "What is the capital of Australia?"}),
    ("POST", "/api/verify", {"answer": "42", "checks": [{"kind": "equals", "value": "42"}]}),
    ("POST", "/api/enqueue", {"tasks": ["What is the capital of Chile?"]}),
    ("POST", "/api/orchestrate", {"goal": "What are the capitals of Chile and Peru?"}),
    ("POST", "/api/supervise", {"task": "What is the capital of Chile?", "rounds": 1}),
    ("POST", "/api/team", {"task": "What is the capital of Chile?", "rounds": 1, "roles": ["proposer"]}),
    ("POST", "/api/sessions", {"task": "What is 2 + 2?", "approve": "deny"}),
    ("GET", "/api/runs", None),
    ("GET", "/api/queue", None),
    ("GET", "/api/stream?task=What+is+the+capital+of+Peru%3F", None),
    ("GET", "/api/health", None),
    ("GET", "/api/frontier", None),
    ("POST", "/api/control/resume", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"model": "aegis", "messages": [{"role": "user", "content": "capital of Peru?"}]}),
]


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVE_KEY}"}


def test_openai_sdk_gets_a_completion_and_a_stream(service: tuple[str, Settings]) -> None:
    url, _ = service
    client = openai.OpenAI(api_key=SERVE_KEY, base_url=f"{url}/v1", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["aegis", "aegis-verified"]
    completion = client.chat.completions.create(
        model="aegis", messages=[{"role": "user", "content": "What is the capital of Australia?"}])
    assert completion.choices[0].message.content == "Canberra."
    assert completion.model_extra["aegis"]["simulated"] is True
    chunks = list(client.chat.completions.create(
        model="aegis", messages=[{"role": "user", "content": "What is the capital of the United States?"}],
        stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Washington, D.C."
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 2  # it streamed


def test_the_verified_pipeline_answers_with_verdicts_or_abstains_as_a_message(service: tuple[str, Settings]) -> None:
    url, _ = service
    client = openai.OpenAI(api_key=SERVE_KEY, base_url=f"{url}/v1", max_retries=0)
    verified = client.chat.completions.create(
        model="aegis-verified", messages=[{"role": "user", "content": "What is the capital of Australia?"}])
    extension = verified.model_extra["aegis"]
    assert verified.choices[0].message.content == "Canberra."  # detect mode: the answer as given, never rewritten
    assert extension["mode"] == "detect" and extension["verdicts"][0]["claim"]["text"] == (
        "The capital of Australia is Canberra.")
    assert extension["abstained"] is False and extension["verdicts"][0]["status"] == "supported"
    assert extension["verification_calls"] >= 3 and extension["simulated"] is True
    unknown = client.chat.completions.create(
        model="aegis-verified", messages=[{"role": "user", "content": "Who painted the Mona Lisa?"}], stream=True)
    chunks = list(unknown)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("I can't give a verified answer:") and chunks[-1].model_extra["aegis"]["abstained"]


def test_api_orchestrate_plans_and_runs_the_steps_in_parallel(service: tuple[str, Settings]) -> None:
    url, _ = service
    body = {"goal": "What are the capitals of France, Japan and Kenya?"}
    result = httpx.post(f"{url}/api/orchestrate", json=body, headers=auth(), timeout=120).json()
    assert [s["task"] for s in result["plan"]["steps"]] == [f"What is the capital of {c}?"
                                                            for c in ("France", "Japan", "Kenya")]
    outputs = {k: v["output"] for k, v in result["outcome"]["steps"].items()}
    assert outputs == {"s1": "Paris.", "s2": "Tokyo.", "s3": "Nairobi."}


def test_api_verify_runs_the_layers_on_a_question(service: tuple[str, Settings]) -> None:
    url, _ = service
    body = {"question": "What is the capital of Peru?", "answer": "The capital of Peru is Quito.",
            "layers": ["ensemble", "claims"], "checks": [{"kind": "contains", "text": "Peru"}]}
    refused = httpx.post(f"{url}/api/verify", json=body, headers=auth(), timeout=60).json()
    assert refused["passed"] is False and refused["results"][0]["passed"] is True
    assert refused["verification"]["answer"]["abstained"] and "quorum not reached" in refused["verification"][
        "answer"]["reason"]
    body["answer"] = "Lima, the capital of Peru."
    accepted = httpx.post(f"{url}/api/verify", json=body, headers=auth(), timeout=60).json()
    assert accepted["passed"] is True and accepted["verification"]["answer"]["text"] == "The capital of Peru is Lima."
    nothing = httpx.post(f"{url}/api/verify", json={"answer": "Lima."}, headers=auth(), timeout=60)
    assert nothing.status_code == 422 and "give checks, a question, or both" in nothing.text


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_needs_the_key(service: tuple[str, Settings], method: str, path: str,
                                   body: dict | None) -> None:
    url, _ = service
    refused = httpx.request(method, url + path, json=body, timeout=30)
    assert refused.status_code == 401 and "API key" in refused.json()["detail"]
    wrong = httpx.request(method, url + path, json=body, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    allowed = httpx.request(method, url + path, json=body, headers=auth(), timeout=30)
    assert 200 <= allowed.status_code < 300, allowed.text


def test_bad_input_is_a_4xx_naming_the_field(service: tuple[str, Settings]) -> None:
    url, _ = service
    missing = httpx.post(f"{url}/api/run", json={"model": "sim:sim-honest"}, headers=auth())
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "task"]
    bad_model = httpx.post(f"{url}/api/run", json={"task": "hi", "model": "nonsense"}, headers=auth())
    assert bad_model.status_code == 400 and "cannot route model" in bad_model.json()["detail"]
    unknown = httpx.post(f"{url}/v1/chat/completions", headers=auth(),
                         json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]})
    assert unknown.status_code == 400
    for path, body in (("/api/run", {"task": "   "}), ("/api/enqueue", {"tasks": ["ok", ""]}),
                       ("/api/enqueue", {"tasks": [" \n "]}),
                       ("/api/verify", {"answer": "a", "checks": [{"kind": "regex", "pattern": "[U"}]})):
        # found by schemathesis: each was a 500
        blank = httpx.post(url + path, json=body, headers=auth())
        assert blank.status_code == 422, (path, body, blank.text)
    huge = httpx.post(f"{url}/api/run", headers=auth(), content=b"x" * (2 << 20))
    assert huge.status_code == 413
    chunked = httpx.post(f"{url}/api/run", headers=auth(), content=iter([b"x" * (1 << 19)] * 4))  # no length
    assert chunked.status_code == 413, chunked.text
    assert httpx.get(f"{url}/api/runs/no-such-run", headers=auth()).status_code == 404


def test_the_dashboard_and_the_schema_are_served(service: tuple[str, Settings]) -> None:
    url, _ = service
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "<title>Aegis</title>" in page.text and "http" not in page.text.split(
        "<script>")[0].split("<style>")[0].replace('charset="utf-8"', "")
    schema = httpx.get(url + "/openapi.json").json()
    assert {"/api/run", "/api/stream", "/v1/chat/completions", "/api/control/stop"} <= set(schema["paths"])


def test_kill_switch_refuses_work_until_resumed_even_across_a_restart(service: tuple[str, Settings]) -> None:
    url, settings = service
    task = {"task": "What is the capital of Australia?"}
    assert httpx.post(f"{url}/api/control/stop", headers=auth()).json() == {"kill_switch": "stopped"}
    assert httpx.post(f"{url}/api/run", json=task, headers=auth()).status_code == 503
    assert httpx.get(f"{url}/api/health", headers=auth()).json()["status"] == "stopped"
    from ray import serve

    serve.delete("aegis")
    deploy_aegis(settings)  # a restarted app reads the switch from the store
    for _ in range(50):
        response = httpx.post(f"{url}/api/run", json=task, headers=auth(), timeout=30)
        if response.status_code != 404:  # the route is back
            break
        time.sleep(0.2)
    assert response.status_code == 503 and "kill switch" in response.json()["detail"]
    httpx.post(f"{url}/api/control/resume", headers=auth())
    assert httpx.post(f"{url}/api/run", json=task, headers=auth(), timeout=30).json()["answer"]["text"] == "Canberra."


def test_every_run_id_can_be_looked_up_and_failures_are_recorded(service: tuple[str, Settings]) -> None:
    url, _ = service
    result = httpx.post(f"{url}/api/run", json={"task": "What is the capital of Australia?"}, headers=auth(),
                        timeout=60).json()
    detail = httpx.get(f"{url}/api/runs/{result['run_id']}", headers=auth()).json()
    assert detail["status"] == "succeeded" and detail["kind"] == "answer" and detail["answer"]["text"] == "Canberra."
    assert [s["state"] for s in detail["steps"]] == ["act", "stop"]
    assert detail["steps"][0]["completion"]["model"] == result["model"] == detail["model"]
    assert detail["usage"]["output_tokens"] == result["usage"]["output_tokens"] and detail["approvals"] == []
    listed = {r["run_id"]: r for r in httpx.get(f"{url}/api/runs?limit=1000", headers=auth()).json()}
    assert listed[result["run_id"]] | {"updated": 0} == {"run_id": result["run_id"], "status": "succeeded",
                                                         "kind": "answer", "task": "What is the capital of Australia?",
                                                         "steps": 2, "updated": 0}
    task = "What is the capital of Mongolia? (for a model that does not exist)"
    failed = httpx.post(f"{url}/api/run", json={"task": task, "model": "sim:no-such-model"}, headers=auth(), timeout=60)
    assert failed.status_code == 400 and set(failed.json()) == {"detail", "hint", "error"}
    recorded = [r for r in httpx.get(f"{url}/api/runs?limit=1000", headers=auth()).json() if r["task"] == task]
    assert [r["status"] for r in recorded] == ["failed"]
    reason = httpx.get(f"{url}/api/runs/{recorded[0]['run_id']}", headers=auth()).json()["answer"]["reason"]
    assert "does not exist" in reason


def test_errors_over_serve_have_one_body(service: tuple[str, Settings]) -> None:
    url, _ = service
    refused = httpx.get(f"{url}/api/health")
    no_route = httpx.get(f"{url}/api/no-such-route", headers=auth())
    invalid = httpx.post(f"{url}/api/run", json={"task": ""}, headers=auth())
    no_run = httpx.get(f"{url}/api/runs/no-such-run", headers=auth())
    for response, status, error in ((refused, 401, "UnauthorizedError"), (no_route, 404, "NotFoundError"),
                                    (invalid, 422, "ValidationError"), (no_run, 404, "NotFoundError")):
        body = response.json()
        assert response.status_code == status and set(body) == {"detail", "hint", "error"}, response.text
        assert body["error"] == error and body["hint"], body
    assert refused.headers["www-authenticate"] == "Bearer"
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{url}/docs-assets/swagger-ui-bundle.js").status_code == 200
