"""`aegis verify`, `aegis verify-claims` and `aegis calibrate`: verification from the command line.

The policy runs in this process and every model call fans out over a `VerifierPool` on the
cluster (local Ray unless RAY_ADDRESS is set). Exit code 3 when the answer is an abstention, with
the reason on stderr. `AnswerCheck` is `aegis run --verify`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from pydantic import ValidationError

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator
from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import BadInputError, ConfigError
from aegis_ray.memory.corpus import load_corpus
from aegis_ray.memory.embeddings import Embedder
from aegis_ray.memory.retrieval import HybridIndex
from aegis_ray.model_ref import ModelLike, ModelRef, as_model_ref
from aegis_ray.types import RunResult, RunStatus
from aegis_ray.verify.policy import (
    BestOfNLayer,
    ClaimsLayer,
    CoveLayer,
    EnsembleLayer,
    EntropyLayer,
    Layer,
    Verification,
    VerificationPolicy,
)

ABSTAINED_EXIT_CODE = 3
Equivalence = Literal["entailment", "embedding", "normalised"]
LAYERS: dict[str, type[Layer]] = {"best_of_n": BestOfNLayer, "ensemble": EnsembleLayer,  # type: ignore[dict-item]
                                  "semantic_entropy": EntropyLayer, "cove": CoveLayer, "claims": ClaimsLayer}

Model = Annotated[str | None, typer.Option("--model", "-m", help="The author model (provider:model).")]
Judge = Annotated[str | None, typer.Option(help="Judge model: entailment, decomposition, grading.")]
Voters = Annotated[list[str] | None, typer.Option("--voter", help="Independent voter model (repeatable).")]
GivenAnswer = Annotated[str | None, typer.Option("--answer", help="Verify this answer instead of asking the author.")]
Calibration = Annotated[Path | None, typer.Option(help="Risk control: accept only above this calibration's "
                                                       "threshold (abstain on everything if it is missing).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the verification as JSON.")]


@reports_errors
def verify(
    question: Annotated[str, typer.Argument(help="The question to answer and verify.")],
    model: Model = None, judge: Judge = None, voter: Voters = None, answer: GivenAnswer = None,
    layers: Annotated[str, typer.Option(help=f"Comma-separated, in order, from: {', '.join(LAYERS)}.")] = (
        "best_of_n,ensemble,cove"),
    n: Annotated[int, typer.Option(min=1, max=64, help="Best-of-N candidates / entropy samples.")] = 5,
    equivalence: Annotated[Equivalence, typer.Option(help="How answers are clustered into meanings.")] = (
        "entailment"),
    calibration: Calibration = None, as_json: AsJson = False,
) -> None:
    """Answer QUESTION and verify it: best-of-N, cross-model ensemble clustered by entailment, CoVe."""
    chosen = []
    for name in (part.strip() for part in layers.split(",") if part.strip()):
        if name not in LAYERS:
            raise BadInputError(f"unknown layer {name!r}", hint=f"choose from {', '.join(LAYERS)}")
        kind = LAYERS[name]
        chosen.append(kind(n=n) if kind is BestOfNLayer else kind(samples=max(n, 2)) if kind is EntropyLayer
                      else kind())
    _run(question, model, judge, voter, answer, tuple(chosen), calibration, None, as_json, equivalence)


@reports_errors
def verify_claims(
    question: Annotated[str, typer.Argument(help="The question to answer and verify claim by claim.")],
    corpus: Annotated[Path | None, typer.Option(help="Directory of .txt/.md files to cite as evidence.")] = None,
    model: Model = None, judge: Judge = None, voter: Voters = None, answer: GivenAnswer = None,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Passages retrieved per claim.")] = 3,
    calibration: Calibration = None, as_json: AsJson = False,
) -> None:
    """Decompose the answer into claims; support each by arithmetic, corpus evidence (cited) or
    cross-model consensus; strip the rest; abstain unless what remains answers QUESTION."""
    _run(question, model, judge, voter, answer, (ClaimsLayer(top_k=top_k),), calibration, corpus, as_json)


def _run(question: str, model: str | None, judge: str | None, voters: list[str] | None, answer: str | None,
         layers: tuple[Layer, ...], calibration: Path | None, corpus: Path | None, as_json: bool,
         equivalence: Equivalence = "entailment") -> None:
    from aegis_ray.runner import plan_models
    from aegis_ray.verify.panel import plan_panel

    settings = load_settings()
    plan = plan_models(settings, model)
    panel = plan_panel(settings, plan.chain[0], judge, voters or ())
    policy = VerificationPolicy(layers=layers, judge=panel.judge, voters=panel.voters, equivalence=equivalence,
                                calibration=calibration or settings.verification.calibration)
    embedder = _embedder(settings) if corpus or equivalence == "embedding" else None
    index = HybridIndex(load_corpus(corpus), embedder) if corpus else None
    with simulator(panel.simulated and not settings.sim_url) as sim_url:
        result = asyncio.run(_verify_on_pool(settings, sim_url, panel.models, policy, question, panel.author,
                                             answer, index, embedder))
    if panel.simulated:
        simulated_notice(", ".join(m.name for m in panel.models if m.simulated))
    _report(result, as_json)


class AnswerCheck:
    """`aegis run --verify`: the claims policy over the run's answer, on the verifier pool."""

    def __init__(self, settings: Settings, author: str, corpus: Path | None) -> None:
        from aegis_ray.verify.panel import plan_panel

        self.panel = plan_panel(settings, author)
        self.policy = VerificationPolicy(layers=(ClaimsLayer(),), judge=self.panel.judge, voters=self.panel.voters,
                                         calibration=settings.verification.calibration)
        self.embedder = _embedder(settings) if corpus else None
        self.index = HybridIndex(load_corpus(corpus), self.embedder) if corpus else None

    async def apply(self, result: RunResult, settings: Settings, sim_url: str | None) -> RunResult:
        author = as_model_ref(result.model)  # the model that answered, after any fallback
        checked = await _verify_on_pool(settings, sim_url, (*self.panel.models, author), self.policy,
                                        result.task, author, result.answer.text, self.index, self.embedder)
        status = RunStatus.ABSTAINED if checked.answer.abstained else result.status
        return result.model_copy(update={"answer": checked.answer, "status": status})


def _embedder(settings: Settings) -> Embedder | None:
    """The offline MiniLM embedder, or None (lexical retrieval only) when it is not installed."""
    from aegis_ray.memory.minilm import default_embedder

    try:
        return default_embedder(settings.home / "models")
    except ConfigError as exc:
        err.print(f"[yellow]dense retrieval off:[/] {exc.message} ({exc.hint}); using BM25 alone", soft_wrap=True)
        return None


async def _verify_on_pool(settings: Settings, sim_url: str | None, models: tuple[ModelRef, ...],
                          policy: VerificationPolicy, question: str, author: ModelLike, answer: str | None,
                          index: HybridIndex | None, embedder: Embedder | None) -> Verification:
    from actors.verifier_actor import VerifierPool
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.telemetry import configure_tracing
    from aegis_ray.verify.policy import verify as run_policy

    configure_tracing(settings.telemetry)
    join_cluster(settings)
    configure = endpoint_configurer(settings, sim_url)
    pool = VerifierPool({m.name: configure(m) for m in dict.fromkeys(models)}, settings.verification.pool_size)
    return await run_policy(policy, question, pool, author, answer=answer, index=index, embedder=embedder)


def _report(result: Verification, as_json: bool) -> None:
    answer = result.answer
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for layer in result.layers:
            mark = "[green]accept[/]" if layer.accepted else "[red]abstain[/]"
            err.print(f"[cyan]{layer.method:>16}[/] {mark} {layer.reason} [dim]({layer.calls} calls, confidence "
                      f"{layer.confidence:.2f})[/]", soft_wrap=True, highlight=False)
        for verdict in answer.verdicts:
            source = ", ".join(f"{e.source}" + (f"[{e.start}:{e.end}]" if e.start is not None else "")
                               for e in verdict.evidence)
            err.print(f"  [bold]{verdict.status:>11}[/] ({verdict.method}) {verdict.claim.text} "
                      f"[dim]{source}[/]", soft_wrap=True, highlight=False)
        if not answer.abstained:
            out.print(answer.text, soft_wrap=True)
        err.print(f"[dim]author {result.author} · {result.calls} model calls · confidence "
                  f"{answer.confidence if answer.confidence is not None else 0:.2f}[/]", soft_wrap=True)
    if answer.abstained:
        err.print(f"[bold]abstained:[/] {answer.reason}", soft_wrap=True)
        raise typer.Exit(ABSTAINED_EXIT_CODE)


@reports_errors
def calibrate(
    data: Annotated[Path, typer.Option(help='JSON lines of {"confidence": 0..1, "correct": true|false}.')],
    alpha: Annotated[float, typer.Option(min=0, max=1, help="Target error rate among accepted answers.")],
    delta: Annotated[float, typer.Option(min=0, max=1, help="Allowed probability of missing the target.")] = 0.1,
    method: Annotated[str, typer.Option(help="Which method's confidence the data holds (a label).")] = "policy",
    output: Annotated[Path | None, typer.Option("--out", help="Where to save (default: the configured "
                                                              "calibration, ~/.aegis/calibration.json).")] = None,
    as_json: AsJson = False,
) -> None:
    """Calibrate the acceptance threshold: error among accepted <= ALPHA with probability >= 1 - DELTA."""
    from aegis_ray.verify.risk import LabelledScore, clopper_pearson_upper
    from aegis_ray.verify.risk import calibrate as fit

    settings = load_settings()
    examples = []
    try:
        lines = data.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read {data}: {exc.strerror}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            examples.append(LabelledScore.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise BadInputError(f"{data}:{number} is not a labelled score: {str(exc).splitlines()[0]}",
                                hint='each line: {"confidence": 0.87, "correct": true}') from None
    calibration = fit(examples, alpha, delta, method)
    target = output or settings.verification.calibration or settings.home / "calibration.json"
    calibration.save(target)
    if as_json:
        out.print_json(calibration.model_dump_json())
        return
    if calibration.threshold is None:
        err.print(f"[yellow]no threshold keeps the error <= {alpha} with probability {1 - delta:.2f} on "
                  f"{len(examples)} examples: the policy will abstain on everything.[/]", soft_wrap=True)
    else:
        accepted = round(calibration.coverage * calibration.examples)
        errors = round((calibration.empirical_risk or 0) * accepted)
        bound = clopper_pearson_upper(errors, accepted, 1 - delta)
        out.print(f"threshold {calibration.threshold:.4f} · coverage {calibration.coverage:.1%} · error among "
                  f"accepted {calibration.empirical_risk:.2%} (upper {1 - delta:.0%} bound {bound:.2%})")
    err.print(f"[dim]saved {target}[/]", soft_wrap=True)

