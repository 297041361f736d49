"""Localisation on composites of two photographs: does the map find the half that holds the reference's object?

Two photographs of ``data/images`` (different objects) are shrunk side by side into one image
(:func:`dianna_distance.evaluation.pairs.side_by_side`); the reference is EfficientNet-Lite0's embedding of one of
them alone. Keeping that photograph's half brings the composite closer to the reference, so a map that localises
puts its positive mass ("brings closer") there. Metrics per item: the **share of the positive mass** in that half
(0.5 for a map that does not localise) and the **pointing game** (the map's largest value lies in that half).

Methods, each charged every row it sends to the model (``peers_methods.Counter``, as ``peers.py``): this
package's grid masks (``ranges``, the default, and ``regression``), its superpixel masks (``mask_kinds=
"superpixels"``, both weightings, sharing one run's calls), and the image peers of ``peers.py`` (LIME on
quickshift superpixels, xaitk-saliency's similarity RISE, DIANNA's RISE) unless ``--no-peers``. Differences to
the grid default are paired over the items, with their standard error.

Usage::

    python benchmarks/localisation.py                         # 12 composites at 200 calls, 6 at 1000
    python benchmarks/localisation.py --budgets 200 --items 4 --no-peers   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import image_model  # noqa: E402
from peers_methods import Counter, Item, image_peers  # noqa: E402

#: Composites (left, right) and which side's photograph is the reference (0: left, 1: right).
COMPOSITES = [("bee", "car1", 0), ("flower", "dogcar", 1), ("labradoodle1", "bike", 0), ("fly", "car2", 1),
              ("car1", "bee2", 0), ("bike", "flower", 1), ("dogcar", "fly", 0), ("car2", "labradoodle2", 1),
              ("bee2", "bike", 1), ("labradoodle2", "car1", 0), ("flower", "fly", 0), ("car2", "bee", 1)]
#: Our configurations: (name, explainer arguments); those differing only in ``weighting`` share one run's calls.
OURS = [("ours (grid, ranges)", {}), ("ours (grid, regression)", {"weighting": "regression"}),
        ("ours-superpixels (ranges)", {"mask_kinds": "superpixels"}),
        ("ours-superpixels (regression)", {"mask_kinds": "superpixels", "weighting": "regression"})]


def scores(saliency: np.ndarray, half: np.ndarray) -> tuple[float, float]:
    """(share of the positive mass in ``half``, 1.0 if the largest value lies in ``half`` else 0.0)."""
    saliency = np.asarray(saliency, np.float64)
    positive = np.clip(saliency, 0, None)
    share = float(positive[half].sum() / positive.sum()) if positive.sum() > 0 else 0.5
    return share, float(half.ravel()[int(np.argmax(saliency))])


def run(budgets: dict[int, int], with_peers: bool) -> dict[int, dict[str, list[tuple[float, float, float]]]]:
    """Per budget and method, per item: (share, pointing, seconds)."""
    from dianna_distance import DistanceExplainer
    from dianna_distance.evaluation.pairs import side_by_side

    encoder, embed, files = image_model()
    peers = image_peers() if with_peers else {}
    results: dict[int, dict[str, list[tuple[float, float, float]]]] = {}
    for budget, n_items in budgets.items():
        per_method: dict[str, list[tuple[float, float, float]]] = {}
        for seed, (left, right, side) in enumerate(COMPOSITES[:n_items]):
            photos = [encoder.prepare(files[name])[0].astype(np.float32) for name in (left, right)]
            composite, halves = side_by_side(*photos)
            reference = np.asarray(embed(photos[side][None]), np.float64)[0]
            item = Item(composite.astype(np.float32), reference, None, seed)
            groups: dict[str, list[tuple[str, dict]]] = {}
            for name, config in OURS:
                groups.setdefault(config.get("mask_kinds", "grid"), []).append((name, config))
            for group in groups.values():
                counter = Counter(embed, reference, "cosine")
                explainer = DistanceExplainer(n_masks=budget, random_state=seed, progress=False,
                                              axis_labels={2: "channels"}, **group[0][1])
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    maps = [explainer.attribute(counter.embed, item.x, reference)]
                    maps += [explainer.reselect(weighting=config.get("weighting", "ranges")) for _, config in group[1:]]
                seconds = time.perf_counter() - start
                assert counter.rows == budget, (counter.rows, budget)
                for (name, _), saliency in zip(group, maps):
                    per_method.setdefault(name, []).append((*scores(saliency, halves[side]), seconds))
            for name, method in peers.items():
                counter = Counter(embed, reference, "cosine")
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    saliency = method(None, item, budget, counter)  # type: ignore[arg-type]
                assert counter.rows == budget, (name, counter.rows, budget)
                per_method.setdefault(name, []).append((*scores(saliency, halves[side]),
                                                        time.perf_counter() - start))
            print(f"  {budget} calls: {left} | {right} done", flush=True)
        results[budget] = per_method
    return results


def report(results: dict[int, dict[str, list[tuple[float, float, float]]]]) -> str:
    """A markdown table: each method's mean share and pointing rate, and its share minus the grid default's, paired."""
    lines = ["| calls | method | items | share of positive mass in the half ± se | pointing game | share − ours "
             "(grid, ranges) ± se | time s (median) |", "|---|---|---|---|---|---|---|"]
    for budget, per_method in results.items():
        base = np.array([row[0] for row in per_method[OURS[0][0]]])
        for name, rows in per_method.items():
            values = np.array(rows)
            share = values[:, 0]
            se = share.std(ddof=1) / np.sqrt(len(share)) if len(share) > 1 else float("nan")
            difference = share - base
            paired = "" if name == OURS[0][0] else (f"{difference.mean():+.3f} ± "
                                                    f"{difference.std(ddof=1) / np.sqrt(len(share)):.3f}")
            lines.append(f"| {budget} | {name} | {len(share)} | {share.mean():.3f} ± {se:.3f} | "
                         f"{values[:, 1].mean():.2f} | {paired} | {np.median(values[:, 2]):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run and print (and write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", type=int, default=[200, 1000])
    parser.add_argument("--items", nargs="+", type=int, default=[12, 6],
                        help="composites per budget (in the order of --budgets; at most 12)")
    parser.add_argument("--no-peers", action="store_true", help="only this package's configurations")
    parser.add_argument("--output", type=Path, default=None, help="also write the table (markdown)")
    args = parser.parse_args(argv)
    counts = (args.items + args.items[-1:] * len(args.budgets))[: len(args.budgets)]
    started = time.perf_counter()
    text = report(run(dict(zip(args.budgets, counts)), not args.no_peers))
    print("\n" + text + f"\ntotal {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
