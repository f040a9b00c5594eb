"""The import-linter contracts in pyproject.toml cover the whole engine, and the layers hold.

`lint-imports` (run by .ci/run) checks the contracts; this test checks that the "engine" contract
names every top-level module of `aegis_ray` except the CLI, so a new engine module cannot slip past
the rule that the engine never imports Ray, the actors, Serve or the CLI.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
NOT_ENGINE = {"cli", "__init__", "__main__"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_engine_contract_names_every_engine_module() -> None:
    package = ROOT / "aegis_ray"
    modules = {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir()
                                                        if p.is_dir() and (p / "__init__.py").exists()}
    engine = {f"aegis_ray.{m}" for m in modules - NOT_ENGINE}
    listed = set(_contracts()["engine"]["source_modules"])
    assert engine - listed == set(), "engine modules missing from the import-linter 'engine' contract"
    assert listed - engine == set(), "the 'engine' contract names modules that do not exist"


def test_engine_is_forbidden_ray_and_the_shells() -> None:
    assert set(_contracts()["engine"]["forbidden_modules"]) == {"ray", "actors", "serve_app", "aegis_ray.cli"}


def test_lint_imports_passes() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
