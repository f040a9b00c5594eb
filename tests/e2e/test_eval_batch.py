"""`aegis eval run ... --batch` as a user runs it, on the test session's Ray cluster and a simulated
model server whose batches take a few seconds: a driver killed after it submitted its batch picks
the batch up on the next run (no batch submitted twice, nothing answered online), and the log and
the report show the batch price; the same for the Anthropic and Gemini batch APIs."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aegis_ray.evals.log import read_log
from aegis_ray.providers.pricing import batch_price, price_for
from tests.helpers import AEGIS, aegis, clean_env, sim_cli_server

pytestmark = pytest.mark.e2e

FACTS = Path(__file__).parents[2] / "examples" / "evals" / "facts" / "facts.jsonl"
SIM_CONFIG = {"models": {"sim-honest*": {"persona": "honest"}}, "batch": {"completion_delay_s": 3.0}}


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sim_cli_server(SIM_CONFIG, tmp_path_factory.mktemp("sim")) as url:
        yield url


@pytest.fixture
def env(sim_url: str, cluster_address: str, tmp_path: Path) -> dict[str, str]:
    httpx.post(f"{sim_url}/_sim/reset").raise_for_status()
    return clean_env(RAY_ADDRESS=cluster_address, AEGIS_HOME=str(tmp_path / "home"), AEGIS_SIM_URL=sim_url,
                     ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=sim_url, GEMINI_API_KEY="k",
                     GOOGLE_GEMINI_BASE_URL=sim_url)


def protocols(sim_url: str) -> list[str]:
    """The protocol of every request the simulator answered, a batch's requests one by one."""
    return [r["protocol"] for r in httpx.get(f"{sim_url}/_sim/log").json()]


def recorded_batches(home: Path) -> list[str]:
    if not (home / "aegis.db").exists():
        return []
    with sqlite3.connect(home / "aegis.db", timeout=10) as db:
        try:
            return [row[0] for row in db.execute("SELECT batch_id FROM batches")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


def test_a_driver_killed_after_submitting_picks_its_batch_up(env: dict[str, str], sim_url: str,
                                                             tmp_path: Path) -> None:
    home, logs = Path(env["AEGIS_HOME"]), tmp_path / "logs"
    command = ["eval", "run", str(FACTS), "--model", "sim:sim-honest", "--batch", "--batch-poll", "0.2",
               "--log-dir", str(logs)]
    driver = subprocess.Popen([*AEGIS, *command], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None and not recorded_batches(home):
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=10)
    submitted = recorded_batches(home)
    assert len(submitted) == 1, "the driver recorded its batch before it was killed"
    assert protocols(sim_url) == ["openai-batch"] * 10
    assert not logs.exists() or not list(logs.iterdir()), "a killed eval writes no log"

    again = aegis(*command, "--json", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["status"], summary["results"], summary["errors"]) == ("success", 10, 0)
    assert summary["batch"]["batch_ids"] == submitted and summary["batch"]["answered"] == 10
    assert protocols(sim_url) == ["openai-batch"] * 10, "no batch submitted again, nothing answered online"
    assert recorded_batches(home) == submitted

    log = read_log(summary["log"])
    price = batch_price(price_for("sim-honest"))
    assert log.batch is not None and log.batch.price == price and price is not None
    assert all(r.batch_id == submitted[0] and r.cost_usd > 0 for r in log.results)
    assert log.metrics["includes/accuracy"].value == 1.0
    view = aegis("eval", "view", summary["log"], env=env, cwd=tmp_path)
    assert view.returncode == 0, view.stderr
    assert (f"batch: sim batch API, 10 answered at ${price.input_per_mtok:g}/${price.output_per_mtok:g} per Mtok "
            f"(batch price), 0 failed → online · {submitted[0]}") in view.stdout


@pytest.mark.parametrize("model", ["anthropic:sim-honest", "gemini:sim-honest"])
def test_batches_through_the_anthropic_and_gemini_apis(env: dict[str, str], sim_url: str, tmp_path: Path,
                                                       model: str) -> None:
    done = aegis("eval", "run", str(FACTS), "--model", model, "--batch", "--batch-poll", "0.2", "--json",
                 "--log-dir", str(tmp_path / "logs"), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["batch"]["provider"] == model.split(":")[0] and summary["batch"]["answered"] == 10
    assert protocols(sim_url) == [f"{model.split(':')[0]}-batch"] * 10
    assert read_log(summary["log"]).metrics["includes/accuracy"].value == 1.0
