"""`aegis verify`, `aegis verify-claims` and `aegis calibrate`: verification from the command line.

The policy runs in this process and every model call fans out over a `VerifierPool` on the
cluster (local Ray unless RAY_ADDRESS is set). Exit code 3 when the answer is an abstention, with
the reason on stderr. `AnswerCheck` is `aegis run --verify`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError
from rich.markup import escape

from aegis_ray.cli.common import err, join_cluster, out, reports_errors, simulated_notice, simulator
from aegis_ray.cli.output import print_verification
from aegis_ray.config import Settings, load_settings
from aegis_ray.errors import BadInputError, ConfigError
from aegis_ray.model_ref import as_model_ref
from aegis_ray.types import RunResult, RunStatus

if TYPE_CHECKING:  # the policy (scipy) and retrieval (numpy) load when a command runs, not with the CLI
    from aegis_ray.memory.corpus import Passage
    from aegis_ray.memory.embeddings import Embedder
    from aegis_ray.memory.retrieval import HybridIndex
    from aegis_ray.model_ref import ModelLike, ModelRef
    from aegis_ray.verify import Judge, Layer, Models, Verification, VerificationPolicy

ABSTAINED_EXIT_CODE = 3
Equivalence = Literal["entailment", "embedding", "normalised"]
ClaimsMode = Literal["detect", "repair"]
EvidenceJudgeName = Literal["auto", "model", "offline"]
LAYER_NAMES = ("best_of_n", "ensemble", "semantic_entropy", "cove", "claims")
"""The layers `--layers` offers (`aegis_ray.verify.policy.CHOSEN_LAYERS`, spelled out here so that
the help needs no policy import), in the order the help lists them."""

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
    layers: Annotated[str, typer.Option(help=f"Comma-separated, in order, from: {', '.join(LAYER_NAMES)}.")] = (
        "best_of_n,ensemble,cove"),
    n: Annotated[int, typer.Option(min=1, max=64, help="Best-of-N candidates / entropy samples.")] = 5,
    equivalence: Annotated[Equivalence, typer.Option(help="How answers are clustered into meanings.")] = (
        "entailment"),
    calibration: Calibration = None, as_json: AsJson = False,
) -> None:
    """Answer QUESTION and verify it: best-of-N, cross-model ensemble clustered by entailment, CoVe."""
    chosen = tuple(_layer(name.strip(), n) for name in layers.split(",") if name.strip())
    _run(question, model, judge, voter, answer, chosen, calibration, None, as_json, equivalence)


def _layer(name: str, n: int) -> Layer:
    """The layer `name` (from LAYER_NAMES), with N candidates or samples where it takes them."""
    from aegis_ray.verify import LAYERS

    if name not in LAYER_NAMES:
        raise BadInputError(f"unknown layer {name!r}", hint=f"choose from {', '.join(LAYER_NAMES)}")
    sizes = {"best_of_n": {"n": n}, "semantic_entropy": {"samples": max(n, 2)}}
    return LAYERS[name](**sizes.get(name, {}))


@reports_errors
def verify_claims(
    question: Annotated[str, typer.Argument(help="The question to answer and verify claim by claim.")],
    corpus: Annotated[Path | None, typer.Option(help="Directory of .txt/.md files to cite as evidence.")] = None,
    model: Model = None, judge: Judge = None, voter: Voters = None, answer: GivenAnswer = None,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Passages retrieved per claim.")] = 3,
    mode: Annotated[ClaimsMode, typer.Option(help="detect: judge the answer as given, any unsupported claim "
                                                  "rejects it; repair: strip unsupported claims and say so.")] = (
        "repair"),
    evidence_judge: Annotated[EvidenceJudgeName | None, typer.Option(
        help="Who judges claims against the corpus: the judge model, the offline evidence judge, or auto "
             "(default: [verification] evidence_judge, auto).")] = None,
    calibration: Calibration = None, as_json: AsJson = False,
) -> None:
    """Decompose the answer into claims; support each by arithmetic, corpus evidence (cited) or
    cross-model consensus; in repair mode strip the rest and abstain unless what remains answers
    QUESTION, in detect mode abstain if any claim is not supported."""
    from aegis_ray.verify import ClaimsLayer

    _run(question, model, judge, voter, answer, (ClaimsLayer(top_k=top_k, mode=mode),), calibration, corpus,
         as_json, evidence_judge=evidence_judge)


def _run(question: str, model: str | None, judge: str | None, voters: list[str] | None, answer: str | None,
         layers: tuple[Layer, ...], calibration: Path | None, corpus: Path | None, as_json: bool,
         equivalence: Equivalence = "entailment", evidence_judge: EvidenceJudgeName | None = None) -> None:
    from aegis_ray.runner import plan_models
    from aegis_ray.telemetry import configure_tracing
    from aegis_ray.verify import VerificationPolicy, plan_panel

    settings = load_settings()
    plan = plan_models(settings, model)
    panel = plan_panel(settings, plan.chain[0], judge, voters or ())
    policy = VerificationPolicy(layers=layers, judge=panel.judge, voters=panel.voters, equivalence=equivalence,
                                calibration=calibration or settings.verification.calibration)
    passages = _passages(corpus)
    configure_tracing(settings.telemetry)
    join_cluster(settings)  # the input is checked: Ray (and its status line) now, the embedder after
    embedder = _embedder(settings) if corpus or equivalence == "embedding" else None
    index = _index(passages, embedder)
    choose = _evidence_judge(evidence_judge or settings.verification.evidence_judge, panel.judge, embedder)
    with simulator(panel.simulated and not settings.sim_url) as sim_url:
        result = asyncio.run(_verify_on_pool(settings, sim_url, panel.models, policy, question, panel.author,
                                             answer, index, embedder, choose))
    if panel.simulated:
        simulated_notice(", ".join(m.name for m in panel.models if m.simulated))
    _report(result, as_json)


class AnswerCheck:
    """`aegis run --verify`: the claims policy over the run's answer, on the verifier pool."""

    def __init__(self, settings: Settings, author: ModelLike, corpus: Path | None) -> None:
        from aegis_ray.verify import ClaimsLayer, VerificationPolicy, plan_panel

        self.panel = plan_panel(settings, author)
        self.policy = VerificationPolicy(layers=(ClaimsLayer(),), judge=self.panel.judge, voters=self.panel.voters,
                                         calibration=settings.verification.calibration)
        self.passages = _passages(corpus)  # read now, before Ray starts; embedded in `apply`

    async def apply(self, result: RunResult, settings: Settings, sim_url: str | None) -> RunResult:
        """`result` with its answer verified on the cluster the run joined (abstained if it did not hold)."""
        author = as_model_ref(result.model)  # the model that answered, after any fallback
        embedder = _embedder(settings) if self.passages is not None else None
        choose = _evidence_judge(settings.verification.evidence_judge, self.panel.judge, embedder)
        checked = await _verify_on_pool(settings, sim_url, (*self.panel.models, author), self.policy, result.task,
                                        author, result.answer.text, _index(self.passages, embedder), embedder,
                                        choose)
        status = RunStatus.ABSTAINED if checked.answer.abstained else result.status
        return result.model_copy(update={"answer": checked.answer, "status": status})


def _passages(corpus: Path | None) -> list[Passage] | None:
    """The corpus directory's text, as passages (a clear error if it has none), or None without one."""
    from aegis_ray.memory.corpus import load_corpus

    return load_corpus(corpus) if corpus is not None else None


def _index(passages: list[Passage] | None, embedder: Embedder | None) -> HybridIndex | None:
    """The passages indexed for retrieval (dense too with an embedder), or None without a corpus."""
    if passages is None:
        return None
    from aegis_ray.memory.retrieval import HybridIndex

    return HybridIndex(passages, embedder)


def _embedder(settings: Settings) -> Embedder | None:
    """The offline MiniLM embedder, or None (lexical retrieval only) when it is not installed."""
    from aegis_ray.memory.minilm import default_embedder

    try:
        return default_embedder(settings.home / "models")
    except ConfigError as exc:
        err.print(f"[yellow]dense retrieval off:[/] {exc.message} ({exc.hint}); using BM25 alone", soft_wrap=True)
        return None


def _evidence_judge(choice: EvidenceJudgeName, judge: ModelRef, embedder: Embedder | None
                    ) -> Callable[[Models], Judge | None]:
    """Who judges claims against the corpus, once the models exist (None: the policy's judge model).
    `auto` with a simulated judge: the simulator for claims about its fact table, the offline
    evidence judge for every other text (the simulator would only check word containment)."""
    from aegis_ray.verify import EvidenceJudge, LLMJudge, RoutedJudge

    def build(models: Models) -> Judge | None:
        if choice == "offline":
            return EvidenceJudge(embedder)
        if choice == "auto" and judge.simulated:
            from aegis_ray.sim.facts import fact_table

            return RoutedJudge(LLMJudge(models, judge), EvidenceJudge(embedder),
                               knows=lambda text: fact_table().parse(text) is not None)
        return None

    return build


async def _verify_on_pool(settings: Settings, sim_url: str | None, models: tuple[ModelRef, ...],
                          policy: VerificationPolicy, question: str, author: ModelLike, answer: str | None,
                          index: HybridIndex | None, embedder: Embedder | None,
                          evidence_judge: Callable[[Models], Judge | None] | None = None) -> Verification:
    from actors.verifier_actor import VerifierPool
    from aegis_ray.control.budget import Governor
    from aegis_ray.runner import endpoint_configurer
    from aegis_ray.verify import verify as run_policy

    join_cluster(settings)  # the command has joined already, as a rule; joining twice does nothing
    configure = endpoint_configurer(settings, sim_url)
    pool = VerifierPool({m.name: configure(m) for m in dict.fromkeys(models)}, settings.verification.pool_size,
                        Governor.of(settings))  # within the global budgets, as `aegis run`
    return await run_policy(policy, question, pool, author, answer=answer, index=index, embedder=embedder,
                            evidence_judge=evidence_judge(pool) if evidence_judge else None)


def _report(result: Verification, as_json: bool) -> None:
    """Each layer's outcome, then whether the answer was verified, its claims and citations, on
    stderr; the answer alone on stdout (or everything as JSON); exit 3 if it abstained."""
    answer = result.answer
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        for layer in result.layers:
            mark = "[green]accept[/]" if layer.accepted else "[red]abstain[/]"
            err.print(f"[cyan]{layer.method:>16}[/] {mark} {escape(layer.reason)} [dim]({layer.calls} calls, "
                      f"confidence {layer.confidence:.2f})[/]", soft_wrap=True, highlight=False)
        print_verification(answer)
        if not answer.abstained:
            out.print(answer.text, markup=False, soft_wrap=True)
        err.print(f"[dim]author {result.author} · {result.calls} model calls[/]", soft_wrap=True)
    if answer.abstained:
        err.print(f"[bold]abstained:[/] {escape(answer.reason or 'no reason given')}", soft_wrap=True)
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
    from aegis_ray.verify import LabelledScore, clopper_pearson_upper
    from aegis_ray.verify import calibrate as fit

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

