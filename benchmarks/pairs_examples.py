"""The three real pair examples of docs/pairs.md, offline, with their figures.

* image x caption: ConSE (EfficientNet-Lite0 x MiniLM) on a composite of bee.jpg (left) and car2.png (right)
  against "a bee and a car" (:func:`dianna_distance.visualization.pairs.plot_image_caption`);
* query x passage: all-MiniLM-L6-v2 on both sides, one session
  (:func:`~dianna_distance.visualization.pairs.plot_interaction_matrix`);
* image x image: EfficientNet-Lite0's class probabilities on both sides, one session: bee.jpg against bee2.jpg
  (:func:`~dianna_distance.visualization.pairs.plot_image_correspondence`).

Usage::

    python benchmarks/pairs_examples.py docs/    # writes pairs_image_caption.png, pairs_query_passage.png, ...
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dianna_distance import PairDistanceExplainer
from dianna_distance.evaluation.pairs import side_by_side
from dianna_distance.visualization.pairs import (
    plot_image_caption,
    plot_image_correspondence,
    plot_interaction_matrix,
)

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
QUERY = "cheap flights to rome"
PASSAGE = "book an inexpensive plane ticket to italy's capital early"


def show(explainer: PairDistanceExplainer, label: str, seconds: float) -> None:
    print(f"\n{label}: {explainer.n_masks_used_} joint samples, {seconds:.0f} s; strongest interactions:")
    for feature_a, feature_b, value, error, significant in explainer.top_interactions(6):
        print(f"  {feature_a:>14} x {feature_b:<14} {value:+.4f} ± {error:.4f}{' *' if significant else ''}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="where the figures go")
    parser.add_argument("--masks", type=int, default=2000, help="joint samples of the caption and query examples")
    parser.add_argument("--image-masks", type=int, default=1000, help="joint samples of the image x image example")
    args = parser.parse_args(argv)
    out = Path(args.directory)

    from dianna_distance.models import load_conse, load_image_encoder
    from dianna_distance.models.sentence import load_minilm

    image_encoder, text_encoder = load_conse()
    bee, kwargs = image_encoder.prepare(IMAGES / "bee.jpg")
    car, _ = image_encoder.prepare(IMAGES / "car2.png")
    composite, _ = side_by_side(bee, car)
    explainer = PairDistanceExplainer(n_masks=args.masks, random_state=0, feature_res_a=4, options_a=kwargs,
                                      progress=False)
    start = time.perf_counter()
    explainer.attribute(image_encoder, composite, text_encoder, "a bee and a car")
    show(explainer, "ConSE image x caption", time.perf_counter() - start)
    plot_image_caption(explainer, composite, output_filename=out / "pairs_image_caption.png")

    minilm = load_minilm()
    explainer = PairDistanceExplainer(n_masks=args.masks, random_state=0, progress=False)
    start = time.perf_counter()
    explainer.attribute(minilm, QUERY, minilm, PASSAGE)
    show(explainer, "MiniLM query x passage", time.perf_counter() - start)
    plot_interaction_matrix(explainer, title=f"Query “{QUERY}” x passage (MiniLM)",
                            output_filename=out / "pairs_query_passage.png")

    effnet = load_image_encoder("efficientnet-lite0")
    image_a, kwargs = effnet.prepare(IMAGES / "bee.jpg")
    image_b, _ = effnet.prepare(IMAGES / "bee2.jpg")
    explainer = PairDistanceExplainer(n_masks=args.image_masks, random_state=0, feature_res_a=4, feature_res_b=4,
                                      options_a=kwargs, options_b=kwargs, progress=False)
    start = time.perf_counter()
    explainer.attribute(effnet, image_a, effnet, image_b)
    show(explainer, "EfficientNet-Lite0 image x image", time.perf_counter() - start)
    plot_image_correspondence(explainer, image_a, image_b, output_filename=out / "pairs_image_image.png")


if __name__ == "__main__":
    main()
