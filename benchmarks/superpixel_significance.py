"""Significance with superpixel masks on the planted image of ``estimators.py`` (docs/performance.md).

The model reads one 8 x 12 block of a 32 x 32 grey image. For grid and superpixel masks (``mask_kinds``), each with
``ranges`` and ``regression`` (one run's calls, ``reselect``), at 1000 masks over 8 items: the **false share** (the
share of the significant pixels outside what they may be: for the grid the block plus one mask cell, for
superpixels the segments that overlap the block), the **power** (the share of the block's pixels marked) and the
share of ``|map|`` in the block.

Usage::

    python benchmarks/superpixel_significance.py      # about a minute
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from estimators import ImageTask  # noqa: E402


def main(n_items: int = 8, n_masks: int = 1000) -> dict[tuple[str, str], np.ndarray]:
    """Print and return the means of (false share, power, share in the block) per (mask kind, weighting)."""
    task = ImageTask(n_items)
    read, grid_allowed = task.read((32, 32))
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for seed, (image, reference) in enumerate(task.items()):
        for kind in ("grid", "superpixels"):
            explainer = task.explainer(n_masks=n_masks, mask_kinds=kind, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                maps = {"ranges": explainer.attribute(task.model, image, reference)}
                marked = {"ranges": explainer.significant_.copy()}
                maps["regression"] = explainer.reselect(weighting="regression")
                marked["regression"] = explainer.significant_.copy()
            allowed = grid_allowed if kind == "grid" else np.isin(explainer.segments_,
                                                                   np.unique(explainer.segments_[read]))
            for weighting, significant in marked.items():
                false = (significant & ~allowed).sum() / max(significant.sum(), 1)
                rows.setdefault((kind, weighting), []).append(
                    (false, (significant & read).sum() / read.sum(), task.truth(image, reference, maps[weighting])))
    means = {key: np.mean(values, axis=0) for key, values in rows.items()}
    for (kind, weighting), (false, power, share) in means.items():
        print(f"{kind:12s} {weighting:10s} false share {false:.2f}  power {power:.2f}  share in block {share:.2f}")
    return means


if __name__ == "__main__":
    main()
