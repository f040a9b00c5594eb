"""The real-text development set (right and hallucinated answers grounded in real documentation).

`load_items(split)` gives the labelled items, `passages()` their source passages (each item's own
corpus); `generate` is the code that built the shipped files in `data/`, `sources` where it read
them from. See docs/VERIFICATION.md.
"""

from aegis_ray.verify.realtext.dataset import (
    FORMATS,
    Format,
    Perturbation,
    RealTextItem,
    SourcePassage,
    Split,
    Turn,
    checksum,
    load_items,
    passages,
)

__all__ = ["FORMATS", "Format", "Perturbation", "RealTextItem", "SourcePassage", "Split", "Turn", "checksum",
           "load_items", "passages"]
