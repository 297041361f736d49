"""Are the error bars right? ``standard_error_`` against the spread across seeds, and sign flips of ``significant_``.

Every explanation carries a per-feature standard error estimated from its own run (``standard_error_``) and the
features whose sign the run establishes (``significant_``, Benjamini–Hochberg at a false-discovery rate of 5%).
This script checks both on real models, for each item and weighting:

* **ratio**: the estimated standard error against the measured spread across ``--seeds`` seeds, as a ratio of
  root-mean-square values over features: ``sqrt(mean(standard_error_**2)) / sqrt(mean(var))`` with ``var`` the
  per-feature variance of the maps across seeds (``ddof=1``, unbiased; the mean of per-feature standard
  deviations would be biased low by a few per cent with five seeds). 1 is a calibrated estimate.
* **paired z**: per feature, the difference of two seeds' maps divided by its estimated standard error
  ``sqrt(se_a**2 + se_b**2)``; the root-mean-square over features and pairs of seeds. 1 when every feature's
  standard error is right, not only their average.
* **significant**: the fraction of features marked, averaged over seeds.
* **flips**: of the features marked in one run, the fraction with the other sign in a run with another seed (over
  every ordered pair of seeds). Small is good: the rule marks signs that hold.
* **|z|>=2 flips**: the same for the per-pixel rule ``|score| >= 2 standard errors``, for comparison, with the
  fraction it marks.

Images: the paper's pairs explained with the real EfficientNet-Lite0 (exported once from its PyPI wheels into the
package's model cache; 224x224, ``feature_res`` 8, ``p_keep`` 0.5, cosine distance of the probabilities), the
reference being the other image's embedding. Texts: all-MiniLM-L6-v2 (int8 ONNX, from its PyPI wheels), each text
against a query. The model runs once per item and seed; the other weightings are computed from the stored
embeddings with ``reselect`` (no model calls).

Usage::

    python benchmarks/calibration.py                        # 6 image pairs, 5 texts, 5 seeds, 1000 masks
    python benchmarks/calibration.py --images path/to/images --pairs bee:fly flower:car1
    python benchmarks/calibration.py --quick                # smoke test: 100 masks, 3 seeds, 2 pairs, 2 texts
    python benchmarks/calibration.py --json out.json         # the figures as JSON too

Cost: ``pairs x seeds x n_masks`` EfficientNet-Lite0 evaluations (6 x 5 x 1000 = 30 000 images: about 5 minutes
at 100 images per second) and ``texts x seeds x n_masks`` MiniLM evaluations (about a minute).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dianna_distance import DistanceExplainer, TextDistanceExplainer

ROOT = Path(__file__).resolve().parents[1]
IMAGE_FOLDERS = (ROOT / "data" / "images", ROOT / "images", ROOT / "tutorials" / "data" / "images",
                 ROOT.parent / "shared" / "data" / "images", ROOT.parents[1] / "shared" / "data" / "images")
PAIRS = (("bee", "fly"), ("flower", "car1"), ("dogcar", "car2"), ("labradoodle1", "labradoodle2"),
         ("bike", "car1"), ("bee2", "flower"))
TEXTS = (
    ("The harbour town rebuilt its old stone lighthouse after the winter storms, and volunteers now guide visitors "
     "up the narrow stairs to watch fishing boats return at sunset every evening.", "lighthouse tours at sunset"),
    ("A honey bee landed on the yellow flower in the garden while a fly buzzed around the kitchen window.",
     "an insect pollinating a plant"),
    ("The new electric car charges in twenty minutes and drives four hundred kilometres on a single charge.",
     "battery range of vehicles"),
    ("Our labradoodle puppy loves chasing the ball in the park but hates taking a bath afterwards.",
     "a dog playing outside"),
    ("The committee postponed the vote on the city budget until the auditors finish their report next month.",
     "government spending decision delayed"),
)
WEIGHTINGS = ("ranges", "linear")


def find_images(folder: str | None) -> Path:
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"--images: no folder {path}")
        return path
    for path in IMAGE_FOLDERS:
        if path.is_dir():
            return path
    raise FileNotFoundError("the paper's images were not found; pass --images FOLDER (bee.jpg, fly.jpg, ...)")


def find_image(images: Path, name: str) -> Path:
    for suffix in (".jpg", ".png", ".jpeg"):
        if (images / f"{name}{suffix}").is_file():
            return images / f"{name}{suffix}"
    raise FileNotFoundError(f"--images: no {name}.jpg or {name}.png in {images}")


def sign_flip_rate(maps: np.ndarray, marked: np.ndarray) -> float:
    """Of the features marked in one run, the fraction with the other sign in another seed's run."""
    flips = counted = 0
    for a in range(len(maps)):
        for b in range(len(maps)):
            if a != b:
                flips += np.count_nonzero(np.sign(maps[a][marked[a]]) != np.sign(maps[b][marked[a]]))
                counted += np.count_nonzero(marked[a])
    return flips / counted if counted else float("nan")


def summarise(maps: np.ndarray, errors: np.ndarray, marked: np.ndarray) -> dict[str, float]:
    """The figures of one item and weighting from its ``(seeds, *feature_shape)`` maps, errors and marks."""
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where two runs agree exactly: left out
        differences = [(maps[a] - maps[b]) / np.sqrt(errors[a] ** 2 + errors[b] ** 2)
                       for a in range(len(maps)) for b in range(a + 1, len(maps))]
    differences = np.concatenate([d[np.isfinite(d)].ravel() for d in differences])
    per_pixel_rule = np.abs(maps) >= 2 * errors  # False where a feature has no score (NaN)
    return {
        "ratio": float(np.sqrt(np.nanmean(errors**2) / np.nanmean(maps.var(axis=0, ddof=1)))),
        "paired_z": float(np.sqrt(np.mean(differences**2))),
        "significant": float(marked.mean()),
        "flips": sign_flip_rate(maps, marked),
        "z2_marked": float(per_pixel_rule.mean()),
        "z2_flips": sign_flip_rate(maps, per_pixel_rule),
    }


def run_seeds(explainer_for, model, item, reference, seeds: int, weightings) -> dict[str, dict[str, float]]:
    """Explain ``item`` with every seed once; every weighting from the same embeddings (``reselect``)."""
    return _collect([(explainer_for(seed), lambda explainer: explainer.attribute(model, item, reference))
                     for seed in range(seeds)], weightings)


def pool_seeds(explainer_for_chunk, item, embeddings: np.ndarray, reference: np.ndarray, seeds: int, n_masks: int,
               weightings) -> dict[str, dict[str, float]]:
    """The same figures from the stored embeddings of one pool of i.i.d. masks, without model calls.

    Chunk ``c`` of the pool (masks ``c * n_masks`` to ``(c + 1) * n_masks``) plays the run of seed ``c``: the
    masks are drawn independently, so disjoint chunks are independent runs. ``explainer_for_chunk(start, stop)``
    returns an explainer of ``stop - start`` masks given as ``masks=`` (the pool's masks ``start:stop``).
    """
    if seeds * n_masks > len(embeddings):
        raise ValueError(f"{seeds} seeds of {n_masks} masks need a pool of {seeds * n_masks}, got {len(embeddings)}")
    runs = []
    for chunk in range(seeds):
        start, stop = chunk * n_masks, (chunk + 1) * n_masks
        runs.append((explainer_for_chunk(start, stop), lambda explainer, start=start, stop=stop:
                     explainer.attribute_from_embeddings(item, embeddings[start:stop], reference)))
    return _collect(runs, weightings)


def _collect(runs, weightings) -> dict[str, dict[str, float]]:
    """Run each ``(explainer, first)``: ``first(explainer)`` gives the first weighting's map, ``reselect`` the rest."""
    collected = {weighting: ([], [], []) for weighting in weightings}
    for explainer, first in runs:
        for i, weighting in enumerate(weightings):
            saliency = first(explainer) if i == 0 else explainer.reselect(weighting=weighting)
            for values, value in zip(collected[weighting],
                                     (saliency, explainer.standard_error_, explainer.significant_)):
                values.append(np.array(value))
    return {weighting: summarise(*(np.array(values) for values in collected[weighting]))
            for weighting in weightings}


def image_rows(args) -> list[dict]:
    from dianna_distance.models import ImageEncoder, load_image_encoder

    images = find_images(args.images)
    encoder = (ImageEncoder(args.model, "efficientnet-lite0") if args.model
               else load_image_encoder("efficientnet-lite0"))
    rows = []
    for pair in args.pairs:
        name, other = pair.split(":")
        start = time.perf_counter()
        image, kwargs = encoder.prepare(find_image(images, name))
        reference = encoder.embed(find_image(images, other))

        def explainer_for(seed, kwargs=kwargs):
            return DistanceExplainer(n_masks=args.n_masks, random_state=seed, progress=False,
                                     weighting=args.weightings[0], **kwargs)

        figures = run_seeds(explainer_for, encoder, image, reference, args.seeds, args.weightings)
        print(f"  {name} vs {other}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows += [{"modality": "image", "item": f"{name} vs {other}", "weighting": w, **f} for w, f in figures.items()]
    return rows


def text_rows(args) -> list[dict]:
    from dianna_distance.models.sentence import load_minilm, minilm_files

    encoder, tokenizer = load_minilm(), minilm_files()[1]
    rows = []
    for text, query in TEXTS[: args.texts]:
        start = time.perf_counter()
        reference = encoder([query])[0]

        def explainer_for(seed):
            return TextDistanceExplainer(n_masks=args.n_masks, tokenizer=tokenizer, random_state=seed, progress=False,
                                         weighting=args.weightings[0])

        figures = run_seeds(explainer_for, encoder, text, reference, args.seeds, args.weightings)
        print(f"  {query!r}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows += [{"modality": "text", "item": f"{text.split()[1]}... vs {query!r}", "weighting": w, **f}
                 for w, f in figures.items()]
    return rows


def table(rows: list[dict], n_masks: int, seeds: int) -> str:
    lines = [f"{seeds} seeds, {n_masks} masks per run; significant_: Benjamini-Hochberg at fdr 0.05 on t p-values\n",
             "| modality | item | weighting | estimate / measured | paired z (RMS) | significant | sign flips "
             "| \\|z\\|>=2 marked | \\|z\\|>=2 flips |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['modality']} | {row['item']} | {row['weighting']} | {row['ratio']:.2f} | "
                     f"{row['paired_z']:.2f} | {row['significant']:.1%} | {row['flips']:.1%} | "
                     f"{row['z2_marked']:.1%} | {row['z2_flips']:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="folder with the paper's images (bee.jpg, fly.jpg, ...)")
    parser.add_argument("--model", help="EfficientNet-Lite0 ONNX file (default: exported into the model cache)")
    parser.add_argument("--pairs", nargs="+", default=[f"{a}:{b}" for a, b in PAIRS], help="image:reference names")
    parser.add_argument("--texts", type=int, default=len(TEXTS), help=f"number of texts (at most {len(TEXTS)})")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS), choices=["ranges", "linear", "normal"])
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-texts", action="store_true")
    parser.add_argument("--quick", action="store_true", help="100 masks, 3 seeds, 2 pairs, 2 texts")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_masks, args.seeds, args.pairs, args.texts = 100, 3, args.pairs[:2], 2
    if args.seeds < 2:
        parser.error("--seeds must be at least 2")
    if any(pair.count(":") != 1 for pair in args.pairs):
        parser.error("--pairs: each pair is image:reference, e.g. bee:fly")
    rows = []
    try:
        if not args.skip_images:
            rows += image_rows(args)
        if not args.skip_texts:
            rows += text_rows(args)
    except (FileNotFoundError, ImportError) as error:
        print(f"calibration.py: {error}", file=sys.stderr)
        return 2
    print(table(rows, args.n_masks, args.seeds))
    if args.json:
        Path(args.json).write_text(json.dumps({"n_masks": args.n_masks, "seeds": args.seeds, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
