"""The detector and DLP, measured on the office world (not tuned on it).

Negatives: every raw tool output of every task's own plan (honest planner, undefended, no attack):
what a defence sees on an ordinary day. Positives: every attack's injection placed in every
carrier, as the carrier's item reads once it holds it. The detector's recall is per technique
(the disguise), its precision per technique counts that technique's true flags against every
flag on the negatives; DLP's entity hits on the negatives are split into the world's real
sensitive values (the people's IBANs, the security code, the passport number) and false positives.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import Field

from aegis_ray.security.detector import detect
from aegis_ray.security.dlp import entity_spans
from aegis_ray.security.redteam.office import people
from aegis_ray.security.redteam.office.attacks import attacks
from aegis_ray.security.redteam.office.carriers import CARRIERS, place
from aegis_ray.security.redteam.office.runner import run_one
from aegis_ray.security.redteam.office.seed import seed_state
from aegis_ray.security.redteam.office.tasks import user_tasks
from aegis_ray.types import Frozen


class DetectorFigures(Frozen):
    negatives: int = Field(description="Benign tool outputs scanned.")
    false_positives: int
    false_positive_rate: float
    positives: int = Field(description="Carrier items holding an injection.")
    recall: float
    by_technique: dict[str, dict[str, float]] = Field(description="technique -> recall, precision.")


class DlpFigures(Frozen):
    outputs: int
    hits: dict[str, int] = Field(description="Entity kind -> hits on benign outputs.")
    false_positives: dict[str, list[str]] = Field(description="Entity kind -> hits that are not a real one.")


class Measures(Frozen):
    detector: DetectorFigures
    dlp: DlpFigures


async def benign_outputs() -> list[str]:
    outputs: list[str] = []
    for task in user_tasks():
        tap: list[str] = []
        await run_one(task, None, "obey", "undefended", obey=False, tap=tap)
        outputs += tap
    return outputs


def _positives() -> dict[str, list[str]]:
    """Per technique, the item of each carrier kind holding each attack (one carrier per kind), its
    text fields as a tool prints them."""
    by_kind = {c.kind: n for n, c in enumerate(CARRIERS)}
    before = {n: _item(n, seed_state()) for n in by_kind.values()}
    found: dict[str, list[str]] = defaultdict(list)
    for attack in attacks():
        for n in by_kind.values():
            state = seed_state()
            place(state, CARRIERS[n], attack.injection())
            after = _item(n, state)
            assert after != before[n]
            found[attack.technique].append(after)
    return found


def _item(n: int, state: object) -> str:
    carrier = CARRIERS[n]
    dump = state.model_dump()  # type: ignore[attr-defined]
    for part in _walk(dump):
        if isinstance(part, dict) and carrier.target in part.values():
            return "\n".join(str(v) for v in _walk(part) if isinstance(v, str))
        if isinstance(part, dict) and carrier.kind == "web" and carrier.target in part:
            return str(part[carrier.target])
    return ""


def _walk(value: object) -> list[object]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    return out


def _real() -> set[str]:
    """The world's sensitive values: the code, the passport, and every account of the bank's records."""
    bank = seed_state().bank
    accounts = {bank.iban, *(t.sender for t in bank.transactions), *(t.recipient for t in bank.transactions),
                *(p.recipient for p in bank.scheduled)}
    return {people.SECURITY_CODE, people.PASSPORT, *accounts,
            *(getattr(people, n) for n in dir(people) if n.endswith("_IBAN"))}


async def measure() -> Measures:
    negatives = await benign_outputs()
    flagged_negatives = sum(detect(text).flagged for text in negatives)
    positives = _positives()
    techniques: dict[str, dict[str, float]] = {}
    total = caught = 0
    for technique, texts in sorted(positives.items()):
        hits = sum(detect(text).flagged for text in texts)
        total, caught = total + len(texts), caught + hits
        techniques[technique] = {"recall": round(hits / len(texts), 4),
                                 "precision": round(hits / (hits + flagged_negatives), 4) if hits else 0.0}
    hits: dict[str, int] = defaultdict(int)
    false: dict[str, list[str]] = defaultdict(list)
    real = _real()
    for text in negatives:
        for span in entity_spans(text):
            value = text[span.start:span.end]
            hits[span.kind] += 1
            if value.replace(" ", "") not in real:
                false[span.kind].append(value)
    return Measures(
        detector=DetectorFigures(negatives=len(negatives), false_positives=flagged_negatives,
                                 false_positive_rate=round(flagged_negatives / len(negatives), 4),
                                 positives=total, recall=round(caught / total, 4), by_technique=techniques),
        dlp=DlpFigures(outputs=len(negatives), hits=dict(hits),
                       false_positives={k: sorted(set(v)) for k, v in false.items()}))
