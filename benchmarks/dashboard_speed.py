"""The dashboard's two speed targets (issue 19), timed with the steps the dashboard runs, on EfficientNet-Lite0.

* **First partial map**: from pressing Explain to the first picture: embed the first block of masks
  (:func:`dianna_distance.dashboard.common.block_size` masks, 100 for a 1000-mask run) with ``embed_masked``, make
  the map from those embeddings (``attribute_from_embeddings``: ranks, map, standard error, significance) and draw
  the figure to PNG bytes, as the dashboard does after every block (target: 2 s).
* **Re-selection**: after a run, new selection ranges and weighting (``reselect``), the significance at its
  false-discovery rate (``significance``) and the figure redrawn, without the model (target: 0.5 s).

The model is loaded beforehand (the dashboard caches its session). Prints the median of ``--repeats`` (default 5).

Usage::

    python benchmarks/dashboard_speed.py
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np

from dianna_distance import DistanceExplainer, plot_distance_map
from dianna_distance.dashboard.common import block_size
from dianna_distance.models import embed_image, load_image_encoder

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"


def png(figure) -> bytes:
    """The figure as PNG bytes, as the dashboard shows it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    encoder = load_image_encoder("efficientnet-lite0")
    image, kwargs = encoder.prepare(IMAGES / "bee.jpg")
    reference = embed_image(encoder, IMAGES / "fly.jpg")  # also warms the session, as the dashboard's cached one is
    pixels = encoder.load_image(IMAGES / "bee.jpg")
    first = block_size(args.n_masks)

    def explainer(n_masks: int) -> DistanceExplainer:
        return DistanceExplainer(n_masks=n_masks, random_state=0, progress=False, **kwargs)

    first_map, reselection = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        embeddings = explainer(args.n_masks).embed_masked(encoder, image, 0, first)
        run = explainer(first)
        saliency = run.attribute_from_embeddings(image, embeddings, reference)
        png(plot_distance_map(saliency, pixels, significant=run.significant_, n_masks=run.n_masks_used_))
        first_map.append(time.perf_counter() - start)

    full = explainer(args.n_masks)
    full.attribute_from_embeddings(image, np.concatenate(
        [embeddings, explainer(args.n_masks).embed_masked(encoder, image, first, args.n_masks)]), reference)
    for repeat in range(args.repeats):
        start = time.perf_counter()
        saliency = full.reselect(mask_selection_range_max=0.1 + 0.02 * (repeat + 1), weighting="ranges")
        full.significance(0.05)
        png(plot_distance_map(saliency, pixels, significant=full.significant_, n_masks=full.n_masks_used_))
        reselection.append(time.perf_counter() - start)

    print(f"EfficientNet-Lite0, bee vs fly, {args.n_masks} masks, first block {first} masks, median of {args.repeats}")
    print(f"first partial map: {statistics.median(first_map):.2f} s (target 2 s)")
    print(f"re-selection:      {statistics.median(reselection):.2f} s (target 0.5 s)")


if __name__ == "__main__":
    main()
