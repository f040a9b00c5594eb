"""Approvals: a run's requests for a human decision, and the decisions (pending while undecided)."""

from __future__ import annotations

import json
import time
from typing import Any

from aegis_ray.store.core import StoreCore


class Approvals(StoreCore):
    """Request, decide and look up approvals."""

    async def request_approval(self, request_id: str, run_id: str, request: dict[str, Any]) -> None:
        async with self.transaction() as tx:
            if not await tx.one("SELECT 1 FROM approvals WHERE request_id = ?", (request_id,)):
                await tx.execute("INSERT INTO approvals (request_id, run_id, request, created) VALUES (?, ?, ?, ?)",
                                 (request_id, run_id, json.dumps(request), time.time()))

    async def decide_approval(self, run_id: str, approved: bool, request_id: str | None = None) -> int:
        """Decide one pending request, or every pending request of the run; returns how many."""
        only, params = (" AND request_id = ?", (request_id,)) if request_id else ("", ())
        async with self.transaction() as tx:
            return await tx.execute("UPDATE approvals SET approved = ?, decided = ? "
                                    f"WHERE run_id = ? AND approved IS NULL{only}",
                                    (int(approved), time.time(), run_id, *params))

    async def approval(self, request_id: str) -> bool | None:
        """The decision on a request: None while pending (or unknown)."""
        async with self.reading() as tx:
            row = await tx.one("SELECT approved FROM approvals WHERE request_id = ?", (request_id,))
        return None if row is None or row[0] is None else bool(row[0])

    async def pending_approvals(self) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.reading() as tx:
            rows = await tx.all("SELECT request_id, run_id, request FROM approvals WHERE approved IS NULL "
                                "ORDER BY created")
        return [(r[0], r[1], json.loads(r[2])) for r in rows]
