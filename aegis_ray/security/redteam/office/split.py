"""The frozen dev/test split of the office world (`split.json`, next to this module).

Which carriers a task reads is measured, not written by hand: a probe run per task (honest
planner, undefended) with a marker in every carrier (`carriers.CARRIERS`) finds which markers
reach the tools' outputs. Every task that reads a carrier is paired with every attack (placed in
all the carriers it reads); a task that reads none is benign only. Tasks and attacks are each assigned to a
side by a hash of their id; a pair is `dev` only when its task and its attack both are, so no
test figure comes from a task or an attack a defence was tuned on. Benign utility is split by
task. The file is data: `tests/unit/test_redteam_office.py` fails if it changes, so a defence is
tuned on dev and reported on test.

    python -m aegis_ray.security.redteam.office.split   # rewrite it (only when the world changes)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from aegis_ray.security.redteam.office.attacks import attacks
from aegis_ray.security.redteam.office.carriers import CARRIERS, place
from aegis_ray.security.redteam.office.runner import run_one
from aegis_ray.security.redteam.office.seed import seed_state
from aegis_ray.security.redteam.office.tasks import user_tasks
from aegis_ray.types import Frozen

Side = Literal["dev", "test"]
SPLIT_FILE = Path(__file__).with_name("split.json")
SALT = "aegis-office-split-v1"


class Pair(Frozen):
    task: str
    attack: str
    side: Side


class Split(Frozen):
    version: int = 1
    salt: str = SALT
    tasks: dict[str, Side]
    attacks: dict[str, Side]
    reads: dict[str, tuple[str, ...]] = Field(description="Per task, the carriers its plan reads.")
    pairs: tuple[Pair, ...]

    def side_pairs(self, side: Side) -> list[Pair]:
        return [p for p in self.pairs if p.side == side]

    def side_tasks(self, side: Side) -> list[str]:
        return sorted(t for t, s in self.tasks.items() if s == side)


def side_of(item_id: str) -> Side:
    digest = hashlib.sha256(f"{SALT}:{item_id}".encode()).hexdigest()
    return "dev" if int(digest[:8], 16) % 2 == 0 else "test"


def probe_marker(n: int) -> str:
    return f"[probe-{n:03d}]"


async def exposure() -> dict[str, tuple[str, ...]]:
    """Per task, the carriers its own plan reads (honest planner, undefended, no attack)."""
    found: dict[str, tuple[str, ...]] = {}
    for task in user_tasks():
        world = seed_state()
        for n, carrier in enumerate(CARRIERS):
            place(world, carrier, probe_marker(n))
        tap: list[str] = []
        await run_one(task, None, "obey", "undefended", obey=False, world=world, tap=tap)
        seen = "\n".join(tap)
        found[task.id] = tuple(c.ref for n, c in enumerate(CARRIERS) if probe_marker(n) in seen)
    return found


async def make_split() -> Split:
    reads = await exposure()
    tasks = {t.id: side_of(t.id) for t in user_tasks()}
    sides = {a.id: side_of(a.id) for a in attacks()}
    pairs = tuple(Pair(task=t, attack=a, side="dev" if tasks[t] == sides[a] == "dev" else "test")
                  for t in sorted(reads) if reads[t] for a in sorted(sides))
    return Split(tasks=tasks, attacks=sides, reads={t: r for t, r in reads.items() if r}, pairs=pairs)


def dump(split: Split) -> str:
    return json.dumps(split.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"


@cache
def load_split() -> Split:
    return Split.model_validate_json(SPLIT_FILE.read_text())


if __name__ == "__main__":
    SPLIT_FILE.write_text(dump(asyncio.run(make_split())))
    print(f"wrote {SPLIT_FILE}")
