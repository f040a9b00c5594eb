"""Every notebook's code cells run top to bottom (with top-level await, as Jupyter allows)."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

NOTEBOOKS = {
    path.name: [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    for path in sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
}


@pytest.mark.parametrize("name", NOTEBOOKS)
async def test_notebook_runs(name: str) -> None:
    cells = NOTEBOOKS[name]
    assert cells, f"{name} has no code"
    namespace: dict[str, object] = {}
    for index, cell in enumerate(cells):
        code = compile("".join(cell["source"]), f"{name}[{index}]", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result
