"""The real-text development set: big enough, balanced, split by passage, and its test split frozen.

The checksum pins the test split as it was built before any judge existed: a change to the items
or their passages fails here, and a new checksum must be argued for, never fitted.
"""

from __future__ import annotations

from collections import Counter

import pytest

from aegis_ray.verify.realtext import FORMATS, checksum, load_items, passages

pytestmark = pytest.mark.unit

TEST_SPLIT_SHA256 = "9da174ae9b290e673a4698ec1b7a7524fcd8199e2d7c988a8158d7a1d828a0d3"


def test_the_test_split_is_frozen() -> None:
    assert checksum(load_items("test")) == TEST_SPLIT_SHA256


def test_at_least_a_thousand_labelled_items_over_three_formats_half_hallucinated() -> None:
    items = load_items()
    assert len(items) >= 1000
    for fmt in FORMATS:
        mine = [i for i in items if i.format == fmt]
        assert len(mine) >= 200
        assert sum(i.hallucinated for i in mine) == len(mine) // 2
    assert {i.perturbation for i in items} == {"none", "entity", "number", "date", "negation", "addition",
                                               "different_question"}
    assert all(i.hallucinated == (i.perturbation != "none") for i in items)


def test_no_passage_is_in_both_splits_and_every_item_has_its_passage() -> None:
    items = load_items()
    by_split = {split: {i.passage_id for i in items if i.split == split} for split in ("train", "test")}
    assert not by_split["train"] & by_split["test"]
    assert {i.passage_id for i in items} <= set(passages())
    assert 0.3 < len(load_items("test")) / len(items) < 0.5


def test_every_passage_comes_from_real_documentation() -> None:
    assert Counter(p.collection for p in passages().values()).keys() == {"debian-history", "debian-faq",
                                                                        "python-docs"}
