"""Printing what commands produce: tables that fit the terminal, a verification report, a run's
result and its exit code."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from aegis_ray.cli.common import err, one_line, out
from aegis_ray.types import Answer, RunResult, RunStatus

if TYPE_CHECKING:
    from aegis_ray.types import Evidence, Verdict


def terminal_width() -> int | None:
    """The width output lines must fit: COLUMNS, else the terminal's; None when stdout is not a
    terminal (a script reads whole lines)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return out.width if out.is_terminal else None


MIN_SQUEEZED = 10  # a free-text column cut narrower than this says too little: plain lines instead


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None, *,
                squeeze: int | None = None) -> list[str]:
    """`rows` in aligned columns, two spaces apart, under `headers`, fitted to `width`: the
    free-text column `squeeze` is cut to make room; when that is not enough, one plain line per row
    (`first: header value, header value, ...`) that the terminal wraps as it must."""
    from rich.cells import cell_len

    cells = [list(headers), *([one_line(cell) for cell in row] for row in rows)]
    widths = [max(cell_len(row[i]) for row in cells) for i in range(len(headers))]
    excess = sum(widths) + 2 * (len(widths) - 1) - width if width is not None else 0
    if excess > 0 and squeeze is not None and widths[squeeze] - excess >= MIN_SQUEEZED:
        widths[squeeze] -= excess
        cells = [[_cut(cell, widths[i]) if i == squeeze else cell for i, cell in enumerate(row)] for row in cells]
    elif excess > 0:
        return [f"{row[0]}: " + ", ".join(f"{h} {v}" for h, v in zip(headers[1:], row[1:], strict=True))
                for row in cells[1:]]
    return ["  ".join(cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]


def _cut(text: str, width: int) -> str:
    from rich.cells import cell_len, set_cell_size

    return text if cell_len(text) <= width else set_cell_size(text, width - 1).rstrip() + "…"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, squeeze: int | None = None) -> None:
    """`table_lines` on stdout, fitted to the terminal."""
    for line in table_lines(headers, rows, terminal_width(), squeeze=squeeze):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


# What the verification did with each claim, by verdict: refuted and unsupported claims are stripped.
CLAIM_MARKS = {"supported": "kept", "refuted": "refuted", "unsupported": "unsupported"}


def verification_lines(answer: Answer) -> list[str]:
    """The verification of `answer`, in words: whether it held, what became of each claim (with
    the verifier that decided and the evidence's sources) and the citations."""
    counts = {status: sum(v.status == status for v in answer.verdicts) for status in CLAIM_MARKS}
    noun = "claim" if counts["supported"] == 1 else "claims"
    summary = ", ".join([f"{counts['supported']} {noun} kept",
                         *(f"{counts[s]} {s} and stripped" for s in ("refuted", "unsupported") if counts[s])])
    headline = f"verified: {'no, abstained' if answer.abstained else 'yes'}"
    if answer.verdicts:
        headline += f" ({summary})"
    if answer.confidence is not None:
        headline += f" · confidence {answer.confidence:.2f}"
    lines = [headline]
    lines += [_verdict_line(verdict) for verdict in answer.verdicts]
    if answer.citations:
        lines.append("citations:")
        lines += [f"  {_source(e)}  \"{_cut(one_line(e.span), 100)}\"" for e in answer.citations]
    return lines


def _verdict_line(verdict: Verdict) -> str:
    sources = " ".join(dict.fromkeys(_source(e) for e in verdict.evidence))
    return f"  {CLAIM_MARKS[verdict.status]:>11} ({verdict.method}) {one_line(verdict.claim.text)} {sources}".rstrip()


def _source(evidence: Evidence) -> str:
    return evidence.source + (f"[{evidence.start}:{evidence.end}]" if evidence.start is not None else "")


def print_verification(answer: Answer, console: Console | None = None) -> None:
    """`verification_lines` on `console`, stderr by default: stdout keeps the answer alone."""
    for line in verification_lines(answer):
        (console or err).print(line, markup=False, highlight=False, soft_wrap=True)


def print_result(result: RunResult) -> None:
    """The answer on stdout (the failure or abstention on stderr), then on stderr what the
    verification kept and stripped, if it ran, and the model, tokens, cost and time."""
    if result.status is not RunStatus.SUCCEEDED:
        reason = result.answer.reason or result.status.value
        err.print(f"[bold]{result.status.value}:[/] {escape(reason)}", soft_wrap=True)
    else:
        out.print(result.answer.text, markup=False, soft_wrap=True)
    if result.answer.verdicts:
        print_verification(result.answer)
    cost = "unknown (no price for this model)" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    label = " (simulated)" if result.simulated else ""
    err.print(
        f"[dim]model {result.model}{label} · tokens {result.usage.input_tokens} in / "
        f"{result.usage.output_tokens} out · cost {cost} · {result.latency_s * 1000:.0f} ms[/]", soft_wrap=True,
    )


def finish(result: RunResult, as_json: bool) -> None:
    """Print a run's result (or its JSON), say how to resume a parked one, exit with its code."""
    from aegis_ray.runner import EXIT_CODES

    if as_json:
        out.print_json(result.model_dump_json())
    else:
        print_result(result)
    if result.status is RunStatus.AWAITING_APPROVAL:
        err.print(f"[yellow]parked:[/] run {result.run_id} awaits approval. Decide with `aegis approve "
                  f"{result.run_id}` (or --deny); it resumes from its last step.", soft_wrap=True)
    raise typer.Exit(EXIT_CODES.get(result.status, 1))
