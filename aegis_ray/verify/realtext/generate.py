"""Build the real-text development set from the documents `sources` finds installed.

    apt-get install debian-history debian-faq python3.11-doc
    python -m aegis_ray.verify.realtext.generate [--passages 320] [--seed 15]

For every chosen passage, one right and one hallucinated item in each format:

- `qa`: a question made from one sentence by putting a wh-phrase in place of one slot ("Python 3.6
  was released on what date?"); the right answer is the slot alone ("December 23, 2016") or the
  sentence reworded. Hallucinated: the slot swapped (entity, number, date), the sentence negated,
  an unsupported sentence added, or the answer to a different question (another value of the same
  kind from the passage, or another sentence of it).
- `dialogue`: a user turn asking such a question; the response is conversational, one or two
  sentences of the passage reworded. Hallucinated as above, on one of its sentences.
- `summary`: two or three sentences of the passage, reworded; hallucinated by a swap or a negation
  in one sentence, or a sentence of another passage of the same document added.

Values swapped in come from the same passage when it has another of the kind (so every word of the
lie occurs in the source), else from the same document, else they are shifted.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Callable

from aegis_ray.memory.text import sentences
from aegis_ray.verify.realtext.dataset import (
    Perturbation,
    RealTextItem,
    SourcePassage,
    Turn,
    split_of,
    write,
)
from aegis_ray.verify.realtext.perturb import Slot, negate, paraphrase, slots, swap
from aegis_ray.verify.realtext.sources import documents, is_prose

KIND_PERTURBATION: dict[str, Perturbation] = {"date": "date", "year": "date", "number": "number", "entity": "entity"}
OPENERS = ("", "", "Quick question: ", "I was reading the documentation. ", "Hi! ")
WRAPPERS = (("", ""), ("Sure! ", ""), ("Good question. ", ""), ("", " Hope that helps!"),
            ("Yes, so here is what I know. ", ""), ("", " Let me know if you need more detail."))
NOT_NOUNS = frozenset(("has", "is", "was", "does", "uses", "adds", "makes", "its", "this", "as", "has"))
SUMMARY_PROMPTS = ("Summarise this passage.", "Give me a short summary of the text.", "What does this passage say?")


class Context:
    """What one passage's items draw on: its sentences, value pools, and foreign sentences."""

    def __init__(self, passage: SourcePassage, pools: dict[str, dict[str, list[str]]],
                 foreign: list[str], rng: random.Random) -> None:
        self.passage = passage
        self.sentences = sentences(passage.text)
        self.rng = rng
        self.doc_pools = pools[passage.document]
        self.foreign = foreign
        self.local_pools: dict[str, list[str]] = defaultdict(list)
        for s in self.sentences:
            for slot in slots(s):
                self.local_pools[slot.kind].append(slot.text)

    def pool(self, kind: str) -> list[str]:
        local = self.local_pools.get(kind, [])
        return local if len(set(local)) > 1 else [*local, *self.doc_pools.get(kind, [])]

    def swapped(self, sentence: str, slot: Slot) -> str | None:
        return swap(sentence, slot, self.pool(slot.kind), self.rng)

    def addition(self) -> str:
        words = set(re.findall(r"\w+", self.passage.text.casefold()))
        for candidate in self.rng.sample(self.foreign, min(len(self.foreign), 20)):
            own = set(re.findall(r"\w+", candidate.casefold()))
            if len(own - words) >= 3:
                return candidate
        return self.rng.choice(self.foreign)


def question_for(sentence: str, slot: Slot) -> str:
    """The sentence as an in-place question about `slot` ("... was released on what date?")."""
    before = sentence[:slot.start]
    after = sentence[slot.end:].rstrip(" .!?;:")
    if slot.kind == "date":
        phrase = "what date" if re.search(r"\d{1,2}", slot.text.split()[0] + slot.text[-8:-5]) else "what month"
        phrase = "what date" if re.search(r"\b\d{1,2}(?:st|nd|rd|th)?\b", slot.text) else phrase
    elif slot.kind == "year":
        phrase = "what year"
    elif slot.kind == "number":
        noun = re.match(r"\s+([a-z]+s)\b", after)
        versioned = re.search(r"\b(Python|Debian|[Vv]ersion|[Rr]elease)\s*$", before)
        phrase = ("which version" if versioned else "how many" if noun and noun.group(1) not in NOT_NOUNS
                  else "which number")
    else:
        phrase = "whom" if before.rstrip().endswith(("by", "to", "with")) else "what"
    text = f"{before}{phrase}{after}?"
    return text[0].upper() + text[1:]


def _choose(rng: random.Random, options: dict[Perturbation, Callable[[], str | None]]) -> tuple[Perturbation, str]:
    """One applicable perturbation, uniformly; a builder that returns None is not applicable."""
    names = list(options)
    rng.shuffle(names)
    for name in names:
        made = options[name]()
        if made:
            return name, made
    raise LookupError("no perturbation applies")


def _uncap(text: str) -> str:
    return text[0].lower() + text[1:] if re.match(r"(The|It|This|A|An|These|There)\b", text) else text


SLOT_WEIGHTS = {"date": 4, "year": 4, "number": 2, "entity": 1}


def _balanced(sentence: str) -> bool:
    return sentence.count("(") == sentence.count(")") and sentence.count('"') % 2 == 0


def _targets(ctx: Context) -> list[tuple[int, str, Slot]]:
    return [(i, s, slot) for i, s in enumerate(ctx.sentences) if _balanced(s) for slot in slots(s)]


def _pick(ctx: Context, targets: list[tuple[int, str, Slot]]) -> tuple[int, str, Slot]:
    """Dates and numbers more often than entities: they are rarer in prose, and no less asked about."""
    return ctx.rng.choices(targets, weights=[SLOT_WEIGHTS[t[2].kind] for t in targets])[0]


def qa_items(ctx: Context) -> tuple[str, str, tuple[Perturbation, str]] | None:
    targets = _targets(ctx)
    if not targets:
        return None
    _, sentence, slot = _pick(ctx, targets)
    question = question_for(sentence, slot)
    bare = ctx.rng.random() < 0.5
    reworded = paraphrase(sentence, ctx.rng)
    right = slot.text if bare else reworded
    kept = next((s for s in slots(reworded) if s.text == slot.text), None)
    others_same_kind = [v for v in ctx.local_pools.get(slot.kind, []) if v != slot.text and v not in sentence]
    other_sentences = [s for s in ctx.sentences if s != sentence and slot.text not in s]

    def swapped() -> str | None:
        if bare:
            lie = ctx.swapped(sentence, slot)
            return None if lie is None else lie[slot.start:len(lie) - (len(sentence) - slot.end)]
        return ctx.swapped(reworded, kept) if kept else None

    def different() -> str | None:
        if bare:
            return ctx.rng.choice(others_same_kind) if others_same_kind else None
        return paraphrase(ctx.rng.choice(other_sentences), ctx.rng) if other_sentences else None

    options: dict[Perturbation, Callable[[], str | None]] = {
        KIND_PERTURBATION[slot.kind]: swapped,
        "different_question": different,
        "addition": lambda: f"{right.rstrip('.')}. {ctx.addition()}" if not bare else None,
        "negation": lambda: None if bare else negate(reworded),
    }
    return question, right, _choose(ctx.rng, options)


def dialogue_items(ctx: Context) -> tuple[str, str, tuple[Perturbation, str]] | None:
    targets = _targets(ctx)
    if not targets:
        return None
    index, sentence, slot = _pick(ctx, targets)
    question = ctx.rng.choice(OPENERS) + question_for(sentence, slot)
    said = [sentence]
    if index + 1 < len(ctx.sentences) and ctx.rng.random() < 0.5:
        said.append(ctx.sentences[index + 1])
    lead, tail = ctx.rng.choice(WRAPPERS)
    said = [paraphrase(s, ctx.rng) for s in said]

    def respond(parts: list[str]) -> str:
        return f"{lead}{' '.join(parts)}{tail}"

    right = respond(said)

    def perturbed_one(edit: Callable[[str], tuple[Perturbation, str] | None]) -> Callable[[], str | None]:
        def build() -> str | None:
            for k in ctx.rng.sample(range(len(said)), len(said)):
                made = edit(said[k])
                if made is not None:
                    return respond([*said[:k], made[1], *said[k + 1:]])
            return None
        return build

    def swap_kind(kinds: tuple[str, ...]) -> Callable[[str], tuple[Perturbation, str] | None]:
        def edit(s: str) -> tuple[Perturbation, str] | None:
            for found in ctx.rng.sample(slots(s), len(slots(s))):
                if found.kind in kinds:
                    lie = ctx.swapped(s, found)
                    if lie:
                        return KIND_PERTURBATION[found.kind], lie
            return None
        return edit

    others = [s for s in ctx.sentences if s not in said and slot.text not in s]
    options: dict[Perturbation, Callable[[], str | None]] = {
        "entity": perturbed_one(swap_kind(("entity",))),
        "number": perturbed_one(swap_kind(("number",))),
        "date": perturbed_one(swap_kind(("date", "year"))),
        "negation": perturbed_one(lambda s: (lambda n: ("negation", n) if n else None)(negate(s))),
        "addition": lambda: respond([*said, ctx.addition()]),
        "different_question": lambda: respond([paraphrase(s, ctx.rng) for s in
                                               ctx.rng.sample(others, min(2, len(others)))]) if others else None,
    }
    return question, right, _choose(ctx.rng, options)


def summary_items(ctx: Context) -> tuple[str, str, tuple[Perturbation, str]] | None:
    n = min(len(ctx.sentences), ctx.rng.choice((2, 3)))
    ranked = sorted(range(1, len(ctx.sentences)), key=lambda i: -len(slots(ctx.sentences[i])))
    chosen = [paraphrase(ctx.sentences[i], ctx.rng) for i in sorted({0, *ranked[:n - 1]})]
    right_parts = chosen
    right = " ".join(right_parts)

    def edit_one(kinds: tuple[str, ...] | None) -> Callable[[], str | None]:
        def build() -> str | None:
            for k in ctx.rng.sample(range(len(chosen)), len(chosen)):
                s = chosen[k]
                if kinds is None:
                    lie = negate(s)
                else:
                    found = [x for x in slots(s) if x.kind in kinds]
                    lie = ctx.swapped(s, ctx.rng.choice(found)) if found else None
                if lie:
                    return " ".join([*right_parts[:k], lie, *right_parts[k + 1:]])
            return None
        return build

    def added() -> str:
        at = ctx.rng.randrange(1, len(right_parts) + 1)
        return " ".join([*right_parts[:at], ctx.addition(), *right_parts[at:]])

    options: dict[Perturbation, Callable[[], str | None]] = {
        "entity": edit_one(("entity",)), "number": edit_one(("number",)), "date": edit_one(("date", "year")),
        "negation": edit_one(None), "addition": added,
    }
    return ctx.rng.choice(SUMMARY_PROMPTS), right, _choose(ctx.rng, options)


def build(limit: int, seed: int) -> tuple[list[SourcePassage], list[RealTextItem]]:
    found: list[SourcePassage] = []
    by_document: dict[str, list[str]] = defaultdict(list)
    for collection, document, paragraphs in documents():
        for n, text in enumerate(paragraphs):
            by_document[document].extend(sentences(text))
            if is_prose(text):
                found.append(SourcePassage(id=f"{collection}/{document}#{n}", collection=collection,
                                           document=document, text=text))
    rng = random.Random(seed)
    debian = [p for p in found if p.collection != "python-docs"]
    python = [p for p in found if p.collection == "python-docs"]
    chosen = sorted([*debian, *rng.sample(python, max(0, min(len(python), limit - len(debian))))],
                    key=lambda p: p.id)
    pools: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for document, said in by_document.items():
        for s in said:
            for slot in slots(s):
                pools[document][slot.kind].append(slot.text)
    items: list[RealTextItem] = []
    for passage in chosen:
        own = set(sentences(passage.text))
        foreign = [s for s in by_document[passage.document] if s not in own and 40 <= len(s) <= 240]
        if len(foreign) < 5:
            foreign += [s for d, said in by_document.items() if d != passage.document for s in said[:20]]
        local = random.Random(int(hashlib.sha256(f"{seed}:{passage.id}".encode()).hexdigest()[:12], 16))
        ctx = Context(passage, pools, foreign, local)
        for fmt, make in (("qa", qa_items), ("dialogue", dialogue_items), ("summary", summary_items)):
            try:
                made = make(ctx)
            except LookupError:
                made = None
            if made is None:
                continue
            question, right, (kind, lie) = made
            history = (Turn(role="user", content=question),) if fmt == "dialogue" else ()
            base = {"format": fmt, "passage_id": passage.id, "question": question, "history": history,
                    "split": split_of(passage.id)}
            items.append(RealTextItem(id=f"{passage.id}/{fmt}/right", answer=right, hallucinated=False,
                                      perturbation="none", **base))
            items.append(RealTextItem(id=f"{passage.id}/{fmt}/{kind}", answer=lie, hallucinated=True,
                                      perturbation=kind, **base))
    used = {i.passage_id for i in items}
    return [p for p in chosen if p.id in used], items


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=320)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    rows, items = build(args.passages, args.seed)
    write(rows, items)
    print(f"{len(rows)} passages, {len(items)} items "
          f"({sum(i.split == 'test' for i in items)} test) written")


if __name__ == "__main__":
    main()
