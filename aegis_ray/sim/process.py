"""The simulated model server as a separate process (benchmarks: no GIL shared with the load)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def start_sim_process(port: int, models: dict[str, Any] | None = None, host: str = "127.0.0.1",
                      wait_s: float = 10.0) -> subprocess.Popen[bytes]:
    """`aegis sim serve` on `host`:`port` (with `models` as its SimConfig models, if given),
    returned once it answers its health check (within `wait_s`)."""
    command = [sys.executable, "-m", "aegis_ray", "sim", "serve", "--host", host, "--port", str(port)]
    if models is not None:
        config = Path(tempfile.mkdtemp(prefix="aegis-sim-")) / "sim.json"
        config.write_text(json.dumps({"models": models}))
        command += ["--config", str(config)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(int(wait_s / 0.05)):
        try:
            httpx.get(f"http://{host}:{port}/_sim/health").raise_for_status()
            return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the simulated model server did not start")
