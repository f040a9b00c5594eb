"""An eval log as one static HTML page: what ran, the metrics with their intervals, plots, and every
result. Plots are matplotlib PNGs embedded as data URIs and the style is inline, so the page loads
nothing from the network (it opens from a CI artifact or an air-gapped machine as it is).

Plots: each scorer's mean score with its 95% interval; latency and cost per result (histograms);
and, for results that carry a confidence (a verified solver), the risk-coverage curve per scorer.
matplotlib is the `report` extra: without it the page has no plots and says how to get them.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aegis_ray.evals.log import EvalLog
from aegis_ray.evals.metrics import risk_at_coverage_value
from aegis_ray.evals.results import MetricValue, SampleResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1c2430; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.meta { color: #56606e; } .bad { color: #b3261e; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border-bottom: 1px solid #dde2e8; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 28rem; white-space: pre-wrap; word-break: break-word; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; } .plots figure { margin: 0; }
figcaption { color: #56606e; font-size: .85rem; }
"""


def write_html(log: EvalLog, path: str | Path) -> Path:
    """Write `log`'s report to `path` (one self-contained HTML file) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(log), encoding="utf-8")
    return path


def render_html(log: EvalLog) -> str:
    """The report page for `log`."""
    spec = log.spec
    title = f"{spec.task} · {log.eval_id}"
    body = [f"<h1>{_e(spec.task)}</h1>", f'<p class="meta">{_e(_summary(log))}</p>']
    if log.stopped:
        body.append(f'<p class="bad">stopped: {_e(log.stopped)}</p>')
    body += ["<h2>Metrics</h2>", _metrics_table(log.metrics)]
    plots = _plots(log)
    if plots is None:
        body += ["<h2>Plots</h2>", '<p class="meta">matplotlib is not installed here: '
                 '<code>pip install "aegis-ray[report]"</code> adds the plots.</p>']
    elif plots:
        body += ["<h2>Plots</h2>", '<div class="plots">',
                 *(f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{png}">'
                   f"<figcaption>{_e(caption)}</figcaption></figure>" for caption, png in plots), "</div>"]
    body += [f"<h2>Results ({len(log.results)})</h2>", _results_table(log)]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def _e(text: object) -> str:
    return html.escape(str(text))


def _summary(log: EvalLog) -> str:
    spec = log.spec
    duration = log.timings.duration_s
    parts = [log.eval_id, log.status, f"{log.created_at:%Y-%m-%d %H:%M} UTC",
             *([f"{duration:.1f} s"] if duration is not None else []),
             f"model {', '.join(m.name for m in spec.models)}", f"solver {spec.solver.name}",
             f"{spec.dataset.samples} samples × {spec.epochs} epochs", f"dataset {spec.dataset.name}",
             f"aegis {log.aegis_version}"]
    if any(r.simulated for r in log.results):
        parts.append("answers from a SIMULATED model")
    if log.git_revision:
        parts.append(f"git {log.git_revision[:12]}{' (dirty)' if log.git_dirty else ''}")
    return " · ".join(parts)


def _metrics_table(metrics: dict[str, MetricValue]) -> str:
    rows = []
    for key, m in metrics.items():
        value = "undefined" if m.value is None else f"{m.value:.6g}"
        interval = f"[{m.ci_low:.4g}, {m.ci_high:.4g}]" if m.ci_low is not None and m.ci_high is not None else ""
        details = m.note or ", ".join(f"{k} {v:.4g}" for k, v in m.details.items())
        rows.append(f'<tr><td>{_e(key)}</td><td class="num">{value}</td><td class="num">{interval}</td>'
                    f'<td class="num">{m.n}</td><td>{_e(details)}</td></tr>')
    return ("<table><tr><th>metric</th><th>value</th><th>95% interval</th><th>n</th><th>details</th></tr>"
            + "".join(rows) + "</table>")


def _results_table(log: EvalLog) -> str:
    scorers = [s.name for s in log.spec.scorers]
    head = "".join(f"<th>{_e(s)}</th>" for s in scorers)
    rows = []
    for r in log.results:
        scores = "".join(f'<td class="num">{"-" if r.scores.get(s) is None else f"{r.scores[s].as_float:g}"}</td>'
                         for s in scorers)
        output = (f'<span class="bad">error: {_e(r.error.message)}</span>' if r.error
                  else '<span class="meta">(abstained)</span>' if r.abstained else _e(r.output or ""))
        latency = "" if r.latency_s is None else f"{r.latency_s:.3f}"
        rows.append(f"<tr><td>{_e(r.sample_id)}</td><td class=\"num\">{r.epoch}</td>"
                    f'<td class="text">{_e(r.input or "")}</td><td class="text">{_e(r.target or "")}</td>'
                    f'<td class="text">{output}</td>{scores}<td class="num">{r.cost_usd:.6f}</td>'
                    f'<td class="num">{latency}</td></tr>')
    return (f"<table><tr><th>sample</th><th>epoch</th><th>input</th><th>target</th><th>output</th>{head}"
            "<th>cost (USD)</th><th>latency (s)</th></tr>" + "".join(rows) + "</table>")


# --- plots ---------------------------------------------------------------------------------------


def _plots(log: EvalLog) -> list[tuple[str, str]] | None:
    """(caption, base64 PNG) for each plot the log has data for; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: render to memory only
        from matplotlib import pyplot
    except ImportError:
        return None
    plots = []
    drawers: list[tuple[str, Callable[[Axes], bool]]] = [
        ("mean score per scorer, with its 95% interval", lambda ax: _scores_plot(ax, log.metrics)),
        ("latency per result (s)", lambda ax: _histogram(ax, [r.latency_s for r in log.results], "seconds")),
        ("cost per result (USD)", lambda ax: _histogram(ax, [r.cost_usd for r in log.results], "USD")),
        ("risk at coverage (results with a confidence)", lambda ax: _risk_coverage(ax, log)),
    ]
    for caption, draw in drawers:
        figure, axes = pyplot.subplots(figsize=(5, 3.2), dpi=100)
        try:
            if draw(axes):
                figure.tight_layout()
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png")
                plots.append((caption, base64.b64encode(buffer.getvalue()).decode()))
        finally:
            pyplot.close(figure)
    return plots


def _scores_plot(ax: Axes, metrics: dict[str, MetricValue]) -> bool:
    means = [m for m in metrics.values() if m.scorer and m.name in ("accuracy", "mean") and m.value is not None]
    if not means:
        return False
    labels = [m.scorer or "" for m in means]
    values = [m.value or 0.0 for m in means]
    errors = [[max(0.0, v - (m.ci_low if m.ci_low is not None else v)) for v, m in zip(values, means, strict=True)],
              [max(0.0, (m.ci_high if m.ci_high is not None else v) - v) for v, m in zip(values, means, strict=True)]]
    ax.bar(labels, values, yerr=errors, capsize=6, color="#4c78a8")
    ax.set_ylim(0, max(1.0, max(values) * 1.1))
    ax.set_ylabel("mean score")
    return True


def _histogram(ax: Axes, values: Sequence[float | None], unit: str) -> bool:
    present = [v for v in values if v is not None]
    if not present:
        return False
    ax.hist(present, bins=min(30, max(5, len(present) // 3)), color="#72b7b2")
    ax.set_xlabel(unit)
    ax.set_ylabel("results")
    return True


def _risk_coverage(ax: Axes, log: EvalLog) -> bool:
    confident = [r for r in log.results if r.confidence is not None and r.error is None]
    if len(confident) < 2:
        return False
    coverages = [c / 20 for c in range(1, 21)]
    for scorer in (s.name for s in log.spec.scorers):
        scored = [r for r in confident if scorer in r.scores]
        if len(scored) < 2:
            continue
        confidence = [r.confidence or 0.0 for r in scored]
        scores = [_score(r, scorer) for r in scored]
        ax.plot(coverages, [risk_at_coverage_value(confidence, scores, c) for c in coverages], marker=".",
                label=scorer)
    if not ax.lines:
        return False
    ax.set_xlabel("coverage (share of results kept, most confident first)")
    ax.set_ylabel("risk (1 - mean score kept)")
    ax.set_ylim(0, 1)
    ax.legend()
    return True


def _score(result: SampleResult, scorer: str) -> float:
    return result.scores[scorer].as_float
