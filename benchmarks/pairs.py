"""Pair explanations on ConSE composites: does each noun of a caption bind its own object?

ConSE (EfficientNet-Lite0 probabilities over MiniLM class-name embeddings, :func:`dianna_distance.models.load_conse`;
no download) puts images and captions in one space. For every pair of the bundled photographs' objects (bee, car,
flower, fly, dog, bike: 15 pairs) a composite holds one object in each half (:func:`side_by_side`), and the caption
names both ("a bee and a car"; which object is left and which noun comes first alternate over the pairs).
:class:`~dianna_distance.PairDistanceExplainer` (``--masks`` joint samples, 4 x 4 image cells, ``random_state``
the pair's index) explains the composite against its caption, and:

* **pointing game** (:class:`~dianna_distance.evaluation.pairs.PairPointingGame`): does each noun's strongest
  interaction cell lie in its own object's half? Against the baseline that multiplies the two first-order maps.
  The rate over the 30 nouns with its binomial standard error, and the share of composites where both nouns bind
  their own half;
* **deletion / insertion** (:class:`~dianna_distance.evaluation.pairs.PairDeletion`) of the top 4 word-cell
  pairs ranked by the interactions, by the first-order product and at random: the mean distance over the steps
  (deletion: higher is better; insertion: lower is better);
* **cost**: the interactions' mean standard error (and the first-order scores') against the number of joint
  samples, from prefixes of each run's samples (:meth:`attribute_from_embeddings`, no further model calls). Every
  joint sample is two model calls.

Usage::

    python benchmarks/pairs.py                  # 15 composites x 1000 samples (about 15 minutes on 2 CPU cores)
    python benchmarks/pairs.py --masks 300 --pairs 3 --json results.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from dianna_distance import PairDistanceExplainer
from dianna_distance.evaluation.pairs import (
    PairDeletion,
    PairPointingGame,
    cells_in_region,
    first_order_product,
    side_by_side,
)

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
#: One photograph per object, and the noun a caption uses for it.
OBJECTS = (("bee", "bee.jpg"), ("car", "car2.png"), ("flower", "flower.jpg"), ("fly", "fly.jpg"),
           ("dog", "labradoodle1.jpg"), ("bike", "bike.jpg"))
GRID = 4
PREFIXES = (100, 250, 500, 1000, 2000, 4000)


def composites(n_pairs: int | None = None) -> list[tuple[str, str, str]]:
    """``(left object, right object, caption)`` for every pair of objects; sides and noun order alternate."""
    result = []
    for index, (first, second) in enumerate(itertools.combinations([name for name, _ in OBJECTS], 2)):
        left, right = (first, second) if index % 2 == 0 else (second, first)
        nouns = (left, right) if (index // 2) % 2 == 0 else (right, left)
        result.append((left, right, f"a {nouns[0]} and a {nouns[1]}"))
    return result[:n_pairs]


def explain_composite(image_encoder, text_encoder, images: dict, kwargs: dict, left: str, right: str, caption: str,
                      n_masks: int, seed: int) -> tuple[PairDistanceExplainer, np.ndarray, dict[int, np.ndarray]]:
    """The explainer after its run, the composite, and each noun's region (the cells of its object's half)."""
    composite, halves = side_by_side(images[left], images[right])
    explainer = PairDistanceExplainer(n_masks=n_masks, random_state=seed, feature_res_a=GRID, options_a=kwargs,
                                      progress=False)
    explainer.attribute(image_encoder, composite, text_encoder, caption)
    regions = {explainer.features_b_.index(noun): cells_in_region(explainer, half)
               for noun, half in ((left, halves[0]), (right, halves[1]))}
    return explainer, composite, regions


def standard_errors(explainer: PairDistanceExplainer, composite: np.ndarray, caption: str, nouns: list[int]
                    ) -> dict[int, tuple[float, float]]:
    """``{samples: (mean interaction standard error of the nouns' columns, mean first-order standard error)}``."""
    result = {}
    for prefix in PREFIXES:
        if prefix > explainer.n_masks_used_:
            break
        head = PairDistanceExplainer(**{**explainer.get_params(), "n_masks": prefix})
        head.attribute_from_embeddings(composite, caption, explainer.embeddings_a_[:prefix],
                                       explainer.embeddings_b_[:prefix])
        result[prefix] = (float(head.interactions_standard_error_[:, nouns].mean()),
                          float(np.mean(np.concatenate([head.standard_error_a_.ravel(), head.standard_error_b_]))))
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks", type=int, default=1000, help="joint samples per composite")
    parser.add_argument("--pairs", type=int, default=None, help="only the first N pairs of objects")
    parser.add_argument("--json", default=None, help="write the results to this file")
    args = parser.parse_args(argv)

    from dianna_distance.models import load_conse

    image_encoder, text_encoder = load_conse()
    images, kwargs = {}, {}
    for name, file in OBJECTS:
        images[name], kwargs = image_encoder.prepare(IMAGES / file)
    game, rows = PairPointingGame(), []
    deletion, insertion = PairDeletion(n_steps=4), PairDeletion(n_steps=4, mode="insertion")
    for seed, (left, right, caption) in enumerate(composites(args.pairs)):
        start = time.perf_counter()
        explainer, composite, regions = explain_composite(image_encoder, text_encoder, images, kwargs, left, right,
                                                          caption, args.masks, seed)
        seconds = time.perf_counter() - start
        pointing = game(explainer, regions)
        random_scores = np.random.default_rng(seed).random(explainer.interactions_.shape)
        orders = {"interactions": explainer.interactions_, "product": first_order_product(explainer),
                  "random": random_scores}
        deleted = deletion(explainer, image_encoder, text_encoder, orders)
        inserted = insertion(explainer, image_encoder, text_encoder, orders)
        rows.append({
            "left": left, "right": right, "caption": caption, "seconds": seconds,
            "hits": pointing.hits.tolist(), "baseline_hits": pointing.baseline_hits.tolist(),
            "significant": [bool(explainer.interactions_significant_[:, k].any()) for k in pointing.features],
            "deletion": {name: deleted.area(name) for name in orders},
            "insertion": {name: inserted.area(name) for name in orders},
            "standard_errors": standard_errors(explainer, composite, caption, pointing.features),
        })
        print(f"{caption!r:28} {left:>6} | {right:<6} hits {pointing.hits.tolist()} baseline "
              f"{pointing.baseline_hits.tolist()} ({seconds:.0f} s)", flush=True)
    summary = summarise(rows)
    print(report(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return summary


def rate(values: list[bool]) -> tuple[float, float]:
    """A rate and its binomial standard error."""
    p = float(np.mean(values))
    return p, float(np.sqrt(p * (1 - p) / len(values)))


def summarise(rows: list[dict]) -> dict:
    hits = [hit for row in rows for hit in row["hits"]]
    baseline = [hit for row in rows for hit in row["baseline_hits"]]
    both = [all(row["hits"]) for row in rows]
    both_baseline = [all(row["baseline_hits"]) for row in rows]
    errors: dict[int, list] = {}
    for row in rows:
        for prefix, values in row["standard_errors"].items():
            errors.setdefault(int(prefix), []).append(values)
    return {
        "composites": len(rows), "nouns": len(hits),
        "pointing": rate(hits), "pointing_baseline": rate(baseline),
        "both_nouns": rate(both), "both_nouns_baseline": rate(both_baseline),
        "significant_nouns": rate([s for row in rows for s in row["significant"]]),
        "deletion": {name: float(np.mean([row["deletion"][name] for row in rows])) for name in rows[0]["deletion"]},
        "insertion": {name: float(np.mean([row["insertion"][name] for row in rows]))
                      for name in rows[0]["insertion"]},
        "standard_error_vs_samples": {prefix: np.mean(values, axis=0).tolist()
                                      for prefix, values in sorted(errors.items())},
        "seconds_per_composite": float(np.mean([row["seconds"] for row in rows])),
    }


def report(summary: dict) -> str:
    lines = [f"{summary['composites']} composites, {summary['nouns']} nouns",
             "| | interactions | first-order product |", "|---|---|---|"]
    for label, key in (("noun points into its own half", "pointing"), ("both nouns of a composite", "both_nouns")):
        ours, theirs = summary[key], summary[f"{key}_baseline"]
        lines.append(f"| {label} | {ours[0]:.0%} ± {ours[1]:.0%} | {theirs[0]:.0%} ± {theirs[1]:.0%} |")
    lines.append(f"nouns with a significant interaction: {summary['significant_nouns'][0]:.0%}")
    for mode in ("deletion", "insertion"):
        lines.append(f"{mode} (mean distance over 4 steps): "
                     + ", ".join(f"{name} {value:.4f}" for name, value in summary[mode].items()))
    lines.append("| joint samples | interaction SE | first-order SE |")
    lines.append("|---|---|---|")
    for prefix, (interaction, first) in summary["standard_error_vs_samples"].items():
        lines.append(f"| {prefix} | {interaction:.4f} | {first:.4f} |")
    lines.append(f"seconds per composite: {summary['seconds_per_composite']:.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
