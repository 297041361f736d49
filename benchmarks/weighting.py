"""Which rank weighting reaches the paper's converged map with the fewest model calls (issue 13)?

For each of the paper's image pairs, the image is explained against the embedding of the other image with the
real EfficientNet-Lite0 (224x224, ``feature_res`` 8, ``p_keep`` 0.5, cosine distance of the softmax outputs).
The model runs once per pair: ``--pool`` masks of one mask stream (``random_state=--seed``) are embedded and the
embeddings cached (``--cache-dir``, an ``.npz`` per pair). Everything else is computed from the cache, without
further model calls, with the public :mod:`dianna_distance.distances` functions (the same ones the explainer
uses; the script checks once that ``DistanceExplainer.attribute_from_embeddings`` gives the same map):

* The masks are i.i.d., so the pool's consecutive chunks of ``--run`` masks are independent runs ("seeds").
* For each run, the *converged paper map* is the paper's estimator (``weighting="ranges"``) on every mask of the
  pool *outside* that run (cross-fitting: the reference never shares a mask with the run it judges).
* For each run and each prefix of it (100, 150, ..., ``--run`` masks), each weighting's map is correlated
  (Pearson, over pixels) with that run's converged paper map; the tables show the mean over runs at 250, 500
  and 1000 masks and the masks each weighting needs for a mean correlation of 0.93 (linear interpolation
  between prefixes).
* Calibration: for each weighting and number of masks, the single-run spread estimate
  :func:`~dianna_distance.convergence.estimate_map_spread` (mean over runs) against the measured spread, the
  per-pixel standard deviation across the runs (``ddof=1``), averaged over pixels, as
  :class:`~dianna_distance.evaluation.SeedSpread` measures it.
* The converged map of every weighting from the whole pool, and its correlation with the paper's.

Besides the built-in weightings (:data:`~dianna_distance.distances.WEIGHTINGS`) the script tries research
variants that are not in the package: ``power 2`` and ``power 3`` (``sign(u) |u|^p``), soft tails (the paper's
10 % at full weight, tapering linearly to zero at 20 %), the paper's selection widened to 25 %, and a matched
filter: weights proportional to how strongly the masks at each rank quantile carry the map's pattern, fitted on
the *other* pairs (:func:`signal_profile`).

``--summary`` (issue 17) keeps only the package's weightings (:data:`~dianna_distance.distances.WEIGHTINGS`),
on 8 pairs by default (:data:`SUMMARY_PAIRS`): each weighting's converged map from the first ``--pool`` masks
against the paper's (same masks, and the split-half limit), and the calibration of ``standard_error_`` and
``significant_`` with ``--calibration-seeds`` disjoint chunks of the pool as seeds (the masks are i.i.d.), through
``DistanceExplainer(masks=...).attribute_from_embeddings`` and ``reselect`` (the figures of ``calibration.py``).

The analysis takes a few minutes per pair (8000 masks of 224x224); the model, about 6 minutes per pair at
20 images per second.

Usage::

    python benchmarks/weighting.py --quick                    # smoke test: one pair, 600 masks (~1 min)
    python benchmarks/weighting.py                           # docs/performance.md (pool 8000, runs of 1000)
    python benchmarks/weighting.py --analyse-only             # the tables again from the cache, no model
    python benchmarks/weighting.py --summary --pool 8000      # docs/weighting_benchmark.md: 8 pairs, calibration
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from dianna_distance import DistanceExplainer
from dianna_distance.convergence import estimate_map_spread
from dianna_distance.distances import RANK_WEIGHTINGS as WEIGHTINGS
from dianna_distance.distances import cosine_distance, rank_weights, selection_weights
from dianna_distance.masks import RiseMasks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import find_images, pool_seeds  # noqa: E402
from calibration import table as calibration_table  # noqa: E402

PAIRS = (("bee", "fly"), ("flower", "car1"), ("dogcar", "car2"))
#: The pairs of ``--summary`` by default: the paper's pairs and more of its images.
SUMMARY_PAIRS = PAIRS + (("labradoodle1", "labradoodle2"), ("bike", "car1"), ("bee", "bee2"), ("car1", "car2"),
                         ("bee2", "fly"))
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
SIZE = 224
FEATURE_RES, P_KEEP = 8, 0.5
TARGET = 0.93
REPORT_AT = (250, 500, 1000)


# -- research weightings (rank -> weight), beside the package's own ---------------------------------------------

def power(n_masks: int, exponent: float) -> np.ndarray:
    """``sign(u) |u|^exponent`` with ``u`` from +1 (closest) to -1 (farthest); exponent 1 is ``"linear"``."""
    u = 1 - 2 * np.arange(n_masks) / max(n_masks - 1, 1)
    weights = np.sign(u) * np.abs(u) ** exponent
    return weights / weights[weights > 0].sum()


def soft_tails(n_masks: int, full: float = 0.1, zero: float = 0.2) -> np.ndarray:
    """Full weight on the closest/farthest ``full`` fraction, tapering linearly to 0 at ``zero``."""
    fraction = (np.arange(n_masks) + 0.5) / n_masks
    side = np.clip((zero - np.minimum(fraction, 1 - fraction)) / (zero - full), 0, 1)
    weights = np.where(fraction < 0.5, side, -side)
    return weights / weights[weights > 0].sum()


def wide_ranges(n_masks: int, fraction: float = 0.25) -> np.ndarray:
    """The paper's estimator with wider ranges: the closest ``fraction`` minus the farthest ``fraction``."""
    return rank_weights(n_masks, "ranges", (0.0, fraction), (1 - fraction, 1.0))


def profile_weights(profile: np.ndarray):
    """Weights that follow a signal profile ``g(u)`` given at ``len(profile)`` equal rank-quantile bins."""
    centres = (np.arange(len(profile)) + 0.5) / len(profile)

    def weights(n_masks: int) -> np.ndarray:
        values = np.interp((np.arange(n_masks) + 0.5) / n_masks, centres, profile)
        return values / values[values > 0].sum()

    return weights


WEIGHTING_FUNCTIONS = {name: (lambda n, name=name: rank_weights(n, name)) for name in WEIGHTINGS}
WEIGHTING_FUNCTIONS.update({
    "power 2": lambda n: power(n, 2.0),
    "power 3": lambda n: power(n, 3.0),
    "soft tails 10-20%": soft_tails,
    "top-bottom 25%": wide_ranges,
})
FITTED = "fitted (other pairs)"
PROFILE_BINS = 20


# -- the model and the images -----------------------------------------------------------------------------------

def load_image(path: Path) -> np.ndarray:
    """Resize the shorter side to 224, centre-crop 224x224; float32 ``(3, 224, 224)`` in [0, 1]."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    scale = SIZE / min(image.size)
    image = image.resize((max(SIZE, round(image.width * scale)), max(SIZE, round(image.height * scale))),
                         Image.BILINEAR)
    left, top = (image.width - SIZE) // 2, (image.height - SIZE) // 2
    image = image.crop((left, top, left + SIZE, top + SIZE))
    return (np.asarray(image, dtype=np.float32) / 255.0).transpose(2, 0, 1).copy()


def normalise(batch: np.ndarray) -> np.ndarray:
    """ImageNet normalisation (torchvision's) of a batch ``(B, 3, H, W)`` of pixels in [0, 1]."""
    return (batch - MEAN) / STD


def make_explainer(n_masks: int, seed: int, weighting: str = "ranges") -> DistanceExplainer:
    return DistanceExplainer(n_masks=n_masks, feature_res=FEATURE_RES, p_keep=P_KEEP, weighting=weighting,
                             axis_labels={0: "channels"}, preprocess_function=normalise, random_state=seed,
                             progress=False)


def find_image(images: Path, name: str) -> Path:
    for suffix in (".jpg", ".png"):
        if (images / f"{name}{suffix}").is_file():
            return images / f"{name}{suffix}"
    raise FileNotFoundError(f"--images: no {name}.jpg or {name}.png in {images}")


def embed_pair(model, images: Path, cache: Path, pair: tuple[str, str], pool: int, seed: int) -> Path:
    """Embed the first image masked by ``pool`` masks (cached, extended when the pool grows); return the file."""
    path = cache / f"{pair[0]}_vs_{pair[1]}_seed{seed}.npz"
    image = load_image(find_image(images, pair[0]))
    done = np.load(path)["embeddings"] if path.is_file() else np.empty((0, 1000))
    if len(done) >= pool:
        return path
    reference = model(normalise(load_image(find_image(images, pair[1]))[None]))[0].astype(np.float64)
    explainer = make_explainer(pool, seed)
    chunks, start, t0 = [done], len(done), time.perf_counter()
    step = 500
    for begin in range(start, pool, step):
        chunks.append(explainer.embed_masked(model, image, begin, min(begin + step, pool)))
        rate = (min(begin + step, pool) - start) / (time.perf_counter() - t0)
        print(f"  {pair[0]} vs {pair[1]}: {min(begin + step, pool)}/{pool} masks ({rate:.1f} images/s)",
              file=sys.stderr, flush=True)
        embeddings = np.concatenate(chunks)
        temporary = path.with_suffix(".tmp.npz")
        np.savez(temporary, embeddings=embeddings, reference=reference, image=image, seed=seed)
        os.replace(temporary, path)
    return path


# -- analysis ---------------------------------------------------------------------------------------------------

def weights_for(distances: np.ndarray, name: str) -> np.ndarray:
    return selection_weights(distances, WEIGHTING_FUNCTIONS[name](len(distances)))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def weighted_sum(weights: np.ndarray, masks: RiseMasks, indices: np.ndarray, chunk: int = 500) -> np.ndarray:
    """``weights (R, len(indices)) @ masks[indices]`` as maps ``(R, H*W)``, a chunk of masks at a time."""
    total = np.zeros((len(weights), SIZE * SIZE))
    for start in range(0, len(indices), chunk):
        block = masks[indices[start : start + chunk]].reshape(-1, SIZE * SIZE).astype(np.float64)
        total += weights[:, start : start + chunk] @ block
    return total


def signal_profile(masks: RiseMasks, distances: np.ndarray, pattern: np.ndarray, bins: int = PROFILE_BINS
                   ) -> np.ndarray:
    """How strongly the masks at each rank quantile carry the map's pattern: ``g(u)``, antisymmetrised.

    ``g_i = (m_i - mean mask) . pattern``; averaged in ``bins`` equal bins of rank quantile, made odd about the
    median (``(g(u) - g(1 - u)) / 2``) and scaled to ``g(first bin) = 1``. If the conditional mean mask at rank
    quantile ``u`` is ``mean + g(u) S`` (one pattern ``S``, as the maps suggest), then every weighting's limit is
    ``S`` up to scale, and weights proportional to ``g`` give the smallest variance (a matched filter).
    """
    projections = np.zeros(len(distances))
    for start in range(0, len(distances), 500):
        block = masks[np.arange(start, min(start + 500, len(distances)))].reshape(-1, SIZE * SIZE)
        projections[start : start + len(block)] = block.astype(np.float64) @ pattern
    ranks = np.argsort(np.argsort(distances, kind="stable"))
    which = ranks * bins // len(distances)
    g = np.array([projections[which == b].mean() for b in range(bins)])
    g = (g - g[::-1]) / 2
    return g / g[0]


def pool_profile(path: Path) -> np.ndarray:
    data = np.load(path)
    embeddings, reference, seed = data["embeddings"], data["reference"], int(data["seed"])
    masks = RiseMasks((SIZE, SIZE), len(embeddings), FEATURE_RES, P_KEEP, seed)
    distances = cosine_distance(embeddings, reference)
    paper = weighted_sum(weights_for(distances, "ranges")[None], masks, np.arange(len(embeddings)))[0]
    return signal_profile(masks, distances, paper - paper.mean())


def report_points(prefixes: np.ndarray) -> list[int]:
    """Numbers of masks shown in the tables: 250, 500, 1000 (those among the prefixes; else two of them)."""
    shown = [n for n in REPORT_AT if n in prefixes]
    return shown or [int(prefixes[len(prefixes) // 2]), int(prefixes[-1])]


def c4(n: int) -> float:
    """``E[sample std] / sigma`` for ``n`` normal samples: the bias of a standard deviation with ``ddof=1``."""
    from math import gamma, sqrt

    return sqrt(2 / (n - 1)) * gamma(n / 2) / gamma((n - 1) / 2)


def analyse_pair(path: Path, run: int, prefixes: np.ndarray, functions: dict) -> dict:
    names = list(functions)
    data = np.load(path)
    embeddings, reference, seed = data["embeddings"], data["reference"], int(data["seed"])
    pool = len(embeddings) - len(embeddings) % run
    n_runs = pool // run
    masks = RiseMasks((SIZE, SIZE), pool, FEATURE_RES, P_KEEP, seed)
    distances = cosine_distance(embeddings[:pool], reference)
    everything = np.arange(pool)
    # Converged maps of every weighting from the whole pool.
    full = weighted_sum(np.stack([selection_weights(distances, functions[name](pool)) for name in names]), masks,
                        everything)
    # Cross-fitted converged paper maps: for run r, the paper's estimator on all masks outside run r.
    converged = []
    for r in range(n_runs):
        outside = np.setdiff1d(everything, np.arange(r * run, (r + 1) * run))
        converged.append(weighted_sum(weights_for(distances[outside], "ranges")[None], masks, outside)[0])
    at = [int(np.flatnonzero(prefixes == n)[0]) for n in report_points(prefixes)]
    correlations = np.zeros((len(names), n_runs, len(prefixes)))
    maps = np.zeros((len(names), len(at), n_runs, SIZE * SIZE))
    estimated = np.zeros((len(names), len(at), n_runs))
    for r in range(n_runs):
        indices = np.arange(r * run, (r + 1) * run)
        run_masks = masks[indices].reshape(run, -1).astype(np.float64)
        for p, prefix in enumerate(prefixes):
            for w, name in enumerate(names):
                weights = selection_weights(distances[indices[:prefix]], functions[name](prefix))
                saliency = weights @ run_masks[:prefix]
                correlations[w, r, p] = correlation(saliency, converged[r])
                if p in at:
                    maps[w, at.index(p), r] = saliency
                    estimated[w, at.index(p), r] = estimate_map_spread(
                        run_masks[:prefix].reshape(prefix, SIZE, SIZE), weights)
    measured = maps.std(axis=2, ddof=1).mean(axis=-1) / c4(n_runs)  # (weightings, len(at))
    paper_index = names.index("ranges")
    return {
        "names": names, "pool": pool, "n_runs": n_runs, "correlations": correlations,
        "estimated": estimated.mean(axis=-1), "measured": measured,
        "converged_vs_paper": [correlation(full[w], full[paper_index]) for w in range(len(names))],
        "amplitude": full.std(axis=1),  # (weightings,): the converged map's standard deviation over pixels
        "halves": split_halves(masks, distances, functions),
        "check": check_explainer(path, embeddings, reference, seed, run),
    }


def split_halves(masks: RiseMasks, distances: np.ndarray, functions: dict) -> dict:
    """Each weighting's map from each half of the pool, compared with the paper's map from the other half.

    Returns ``paper_halves`` (the paper's half-pool maps with each other: how converged one is), and per
    weighting ``cross`` (its half map with the paper's map of the other half, mean of both ways), ``own`` (its
    two half maps with each other) and ``limit``: ``cross / sqrt(own * paper_halves)``, the correlation of the
    two estimators' limits with the noise of both taken out (Spearman's correction for attenuation).
    """
    half = len(distances) // 2
    names = list(functions)
    maps = []
    for indices in (np.arange(half), np.arange(half, 2 * half)):
        weights = np.stack([selection_weights(distances[indices], functions[name](half)) for name in names])
        maps.append(weighted_sum(weights, masks, indices))
    paper = names.index("ranges")
    paper_halves = correlation(maps[0][paper], maps[1][paper])
    cross = np.array([(correlation(maps[0][w], maps[1][paper]) + correlation(maps[1][w], maps[0][paper])) / 2
                      for w in range(len(names))])
    own = np.array([correlation(maps[0][w], maps[1][w]) for w in range(len(names))])
    return {"paper_halves": paper_halves, "cross": cross, "own": own, "limit": cross / np.sqrt(own * paper_halves)}


def check_explainer(path: Path, embeddings: np.ndarray, reference: np.ndarray, seed: int, run: int) -> float:
    """Largest difference between the script's linear map and the explainer's, for the first ``run`` masks."""
    image = np.load(path)["image"]
    explainer = make_explainer(run, seed, weighting="linear")
    ours = explainer.attribute_from_embeddings(image, embeddings[:run], reference)
    masks = RiseMasks((SIZE, SIZE), run, FEATURE_RES, P_KEEP, seed)
    mine = weighted_sum(weights_for(cosine_distance(embeddings[:run], reference), "linear")[None], masks,
                        np.arange(run))[0].reshape(SIZE, SIZE)
    return float(np.max(np.abs(ours - mine)))


# -- --summary: the package's weightings only, converged maps and calibration ------------------------------------

def converged_summary(path: Path, pool: int) -> dict:
    """Converged maps of :data:`WEIGHTINGS` from the first ``pool`` masks, their split-half limits and amplitudes."""
    functions = {name: WEIGHTING_FUNCTIONS[name] for name in WEIGHTINGS}
    data = np.load(path)
    embeddings, reference, seed = data["embeddings"], data["reference"], int(data["seed"])
    if len(embeddings) < pool:
        raise ValueError(f"{path} holds {len(embeddings)} embeddings, fewer than --pool {pool}")
    pool -= pool % 2
    masks = RiseMasks((SIZE, SIZE), pool, FEATURE_RES, P_KEEP, seed)
    distances = cosine_distance(embeddings[:pool], reference)
    full = weighted_sum(np.stack([selection_weights(distances, functions[name](pool)) for name in functions]),
                        masks, np.arange(pool))
    paper = list(functions).index("ranges")
    return {"pool": pool, "same": [correlation(full[w], full[paper]) for w in range(len(functions))],
            "amplitude": full.std(axis=1) / full[paper].std(), "halves": split_halves(masks, distances, functions)}


def calibration_rows(path: Path, pair: str, seeds: int, n_masks: int) -> list[dict]:
    """:func:`calibration.pool_seeds` on a cached pool: ``seeds`` disjoint chunks of ``n_masks`` masks."""
    data = np.load(path)
    embeddings, reference, seed, image = data["embeddings"], data["reference"], int(data["seed"]), data["image"]
    masks = RiseMasks((SIZE, SIZE), seeds * n_masks, FEATURE_RES, P_KEEP, seed)

    def explainer_for_chunk(start: int, stop: int) -> DistanceExplainer:
        return DistanceExplainer(n_masks=stop - start, masks=masks[np.arange(start, stop)], axis_labels={0: "channels"},
                                 preprocess_function=normalise, weighting="ranges", progress=False)

    figures = pool_seeds(explainer_for_chunk, image, embeddings, reference, seeds, n_masks, WEIGHTINGS)
    return [{"modality": "image", "item": pair, "weighting": w, **f} for w, f in figures.items()]


def spread(values) -> str:
    """``min-max (median m)`` of a list of numbers."""
    return f"{np.min(values):.3f}-{np.max(values):.3f} (median {np.median(values):.3f})"


def summary_report(summaries: dict, names: list[str]) -> str:
    """The converged-map table per pair and its range over pairs."""
    lines = ["## Converged map of each weighting against the paper's (`ranges`)", "",
             "*same masks*: both maps from the whole pool; *half vs half*: the weighting's map from one half of the "
             "pool against the paper's from the other half (mean of both ways); *limit*: the latter corrected for "
             "the noise of both maps (Spearman's correction for attenuation; noise can put it above 1); "
             "*paper halves*: the paper's two half-pool maps with each other; *amplitude*: the converged map's "
             "standard deviation over pixels relative to the paper's.", "",
             "| pair | pool | paper halves | " + " | ".join(f"{n}: same masks / half vs half / limit / amplitude"
                                                       for n in names if n != "ranges") + " |",
             "|---|---|---|" + "---|" * (len(names) - 1)]
    for pair, result in summaries.items():
        halves = result["halves"]
        cells = [f"{result['same'][w]:.3f} / {halves['cross'][w]:.3f} / {halves['limit'][w]:.3f} / "
                 f"{result['amplitude'][w]:.2f}" for w, name in enumerate(names) if name != "ranges"]
        lines.append(f"| {pair} | {result['pool']} | {halves['paper_halves']:.3f} | " + " | ".join(cells) + " |")
    lines += ["", f"Over the {len(summaries)} pairs, min-max (median):", "",
              "| weighting | same masks | limit | amplitude |", "|---|---|---|---|"]
    for w, name in enumerate(names):
        if name != "ranges":
            lines.append(f"| {name} | {spread([r['same'][w] for r in summaries.values()])} | "
                         f"{spread([r['halves']['limit'][w] for r in summaries.values()])} | "
                         f"{spread([r['amplitude'][w] for r in summaries.values()])} |")
    return "\n".join(lines)


def masks_to_reach(prefixes: np.ndarray, mean_correlation: np.ndarray, target: float) -> str:
    above = np.flatnonzero(mean_correlation >= target)
    if not len(above):
        return f"> {prefixes[-1]}"
    i = above[0]
    if i == 0:
        return f"<= {prefixes[0]}"
    x0, x1, y0, y1 = prefixes[i - 1], prefixes[i], mean_correlation[i - 1], mean_correlation[i]
    return f"{x0 + (target - y0) / (y1 - y0) * (x1 - x0):.0f}"


def report(results: dict, prefixes: np.ndarray, names: list[str], profiles: dict) -> str:
    reported = report_points(prefixes)
    at = [int(np.flatnonzero(prefixes == n)[0]) for n in reported]
    header = " | ".join(f"{n} masks" for n in reported)
    lines = ["## Mean correlation with the converged paper map", "",
             f"| pair | runs x masks | weighting | {header} | masks for {TARGET} |",
             "|---|---|---|" + "---|" * (len(at) + 1)]
    for pair, result in results.items():
        mean = result["correlations"].mean(axis=1)
        for w, name in enumerate(names):
            values = " | ".join(f"{mean[w, i]:.3f}" for i in at)
            lines.append(f"| {pair} | {result['n_runs']} x {prefixes[-1]} | {name} | {values} | "
                         f"{masks_to_reach(prefixes, mean[w], TARGET)} |")
    if len(results) > 1:
        lines += ["", "## Mean over pairs", "", f"| weighting | {header} | masks for {TARGET} |",
                  "|---|" + "---|" * (len(at) + 1)]
        overall = np.mean([r["correlations"].mean(axis=1) for r in results.values()], axis=0)
        for w, name in enumerate(names):
            values = " | ".join(f"{overall[w, i]:.3f}" for i in at)
            lines.append(f"| {name} | {values} | {masks_to_reach(prefixes, overall[w], TARGET)} |")
    lines += ["", "## The limit: each weighting vs the paper's estimator", "",
              "Rows: *same masks*, both maps from the whole pool (their noise is partly shared); *half vs other "
              "half*, the weighting's map from one half of the pool with the paper's map from the other half "
              "(for `ranges`: the paper's two halves, how converged a half-pool paper map is); *limits*, the "
              "latter corrected for the noise of both maps (Spearman): the correlation of the two converged maps.",
              "", "| pair | compared | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for pair, result in results.items():
        halves = result["halves"]
        lines.append(f"| {pair} ({result['pool']} masks) | same masks | "
                     + " | ".join(f"{c:.3f}" for c in result["converged_vs_paper"]) + " |")
        lines.append(f"| {pair} | half vs other half | " + " | ".join(f"{c:.3f}" for c in halves["cross"]) + " |")
        lines.append(f"| {pair} | limits | " + " | ".join(f"{c:.3f}" for c in halves["limit"]) + " |")
    lines += ["", "## Converged map amplitude (std over pixels) relative to the paper's; spread at the largest "
              "number of masks relative to the map's amplitude", "",
              "| pair | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for pair, result in results.items():
        amplitude = result["amplitude"]
        cells = [f"{amplitude[w] / amplitude[names.index('ranges')]:.2f} ("
                 f"{result['measured'][w, -1] / amplitude[w]:.3f})" for w in range(len(names))]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    lines += ["", "## Signal profile g(u) of the masks by rank quantile (first half; odd about the median)", "",
              "| pair | " + " | ".join(f"{(b + 0.5) / PROFILE_BINS:.3f}" for b in range(PROFILE_BINS // 2)) + " |",
              "|---|" + "---|" * (PROFILE_BINS // 2)]
    for pair, profile in profiles.items():
        lines.append(f"| {pair} | " + " | ".join(f"{g:.2f}" for g in profile[: PROFILE_BINS // 2]) + " |")
    lines += ["", "## Spread: single-run estimate (mean over runs) / measured across runs (ratio)", "",
              "Measured: per-pixel standard deviation across the runs (ddof=1, divided by c4(runs)), mean over "
              "pixels.", "", f"| pair | weighting | {header} |", "|---|---|" + "---|" * len(at)]
    for pair, result in results.items():
        for w, name in enumerate(names):
            cells = [f"{result['estimated'][w, i]:.4f} / {result['measured'][w, i]:.4f} "
                     f"({result['estimated'][w, i] / result['measured'][w, i]:.2f})" for i in range(len(at))]
            lines.append(f"| {pair} | {name} | " + " | ".join(cells) + " |")
    ratios = np.array([r["estimated"] / r["measured"] for r in results.values()])  # (pairs, weightings, at)
    lines += ["", "Estimate / measured over all pairs and numbers of masks: "
              + "; ".join(f"{name} {ratios[:, w].mean():.2f} ({ratios[:, w].min():.2f}-{ratios[:, w].max():.2f})"
                          for w, name in enumerate(names)), ""]
    lines += [f"Largest |script map - DistanceExplainer map| (linear, first run): "
              f"{max(r['check'] for r in results.values()):.2e}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="EfficientNet-Lite0 ONNX (default: exported into the model cache)")
    parser.add_argument("--images", help="folder with the paper's images (default: data/images of the repository)")
    parser.add_argument("--cache-dir", default="/work/cache/weighting", help="where the embeddings are cached")
    parser.add_argument("--pool", type=int, default=8000, help="masks embedded per pair")
    parser.add_argument("--run", type=int, default=1000, help="masks per independent run (a chunk of the pool)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the pool's masks")
    parser.add_argument("--pairs", nargs="+", help="image:reference names (default: the 3 paper pairs; with "
                        f"--summary, {len(SUMMARY_PAIRS)} pairs)")
    parser.add_argument("--summary", action="store_true",
                        help="only the package's weightings: converged maps vs the paper's, and the calibration")
    parser.add_argument("--calibration-seeds", type=int, default=5, help="--summary: runs (pool chunks) per size")
    parser.add_argument("--calibration-masks", type=int, nargs="*", default=[500, 1000],
                        help="--summary: masks per calibration run (none: no calibration)")
    parser.add_argument("--analyse-only", action="store_true", help="use the cache only; never run the model")
    parser.add_argument("--quick", action="store_true", help="smoke test: one pair, pool 600, runs of 200")
    parser.add_argument("--output", help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = [f"{a}:{b}" for a, b in (SUMMARY_PAIRS if args.summary else PAIRS)]
    if args.quick:
        args.pool, args.run, args.pairs = 600, 200, args.pairs[:1]
        args.cache_dir = str(Path(args.cache_dir) / "quick")
    if args.pool < 2 * args.run:
        parser.error("--pool must hold at least two runs (2 * --run masks)")
    if any(pair.count(":") != 1 for pair in args.pairs):
        parser.error("--pairs: each pair is image:reference, e.g. bee:fly")
    if args.summary and args.calibration_masks and args.calibration_seeds * max(args.calibration_masks) > args.pool:
        parser.error("--calibration-seeds * --calibration-masks must fit in --pool")
    pairs = [tuple(p.split(":")) for p in args.pairs]
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"# weighting benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"EfficientNet-Lite0 {args.model}, pool {args.pool}, runs of {args.run}, seed {args.seed}")
    paths = {}
    if args.analyse_only:
        for a, b in pairs:
            paths[f"{a} vs {b}"] = cache / f"{a}_vs_{b}_seed{args.seed}.npz"
            if not paths[f"{a} vs {b}"].is_file():
                parser.error(f"--analyse-only: no cached embeddings {paths[f'{a} vs {b}']}; run without it first")
    else:
        from dianna_distance.model import OnnxModel
        from dianna_distance.models import exported_model_file

        model = OnnxModel(args.model or exported_model_file("efficientnet-lite0"), providers=["CPUExecutionProvider"])
        images = find_images(args.images)
        for a, b in pairs:
            paths[f"{a} vs {b}"] = embed_pair(model, images, cache, (a, b), args.pool, args.seed)
    if args.summary:
        return summarise_pools(paths, args)
    step = 50 if args.run >= 500 else 25
    prefixes = np.arange(100 if args.run >= 500 else 50, args.run + 1, step)
    profiles = {pair: pool_profile(path) for pair, path in paths.items()}
    results = {}
    for pair, path in paths.items():
        functions = dict(WEIGHTING_FUNCTIONS)
        others = [profile for other, profile in profiles.items() if other != pair]
        if others:  # the matched filter, fitted on the other pairs only
            functions[FITTED] = profile_weights(np.mean(others, axis=0))
        print(f"  analysing {pair}", file=sys.stderr, flush=True)
        results[pair] = analyse_pair(path, args.run, prefixes, functions)
    names = list(next(iter(results.values()))["names"])
    text = report(results, prefixes, names, profiles)
    print(text)
    if args.output:
        temporary = Path(args.output).with_suffix(".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, args.output)
    return 0


def summarise_pools(paths: dict, args: argparse.Namespace) -> int:
    """``--summary``: the converged-map table and the calibration table from the cached pools."""
    summaries, rows = {}, {n: [] for n in args.calibration_masks}
    for pair, path in paths.items():
        print(f"  summarising {pair}", file=sys.stderr, flush=True)
        summaries[pair] = converged_summary(path, args.pool)
        for n in args.calibration_masks:
            rows[n] += calibration_rows(path, pair, args.calibration_seeds, n)
    parts = [summary_report(summaries, list(WEIGHTINGS))]
    for n, table_rows in rows.items():
        parts += ["", f"## Calibration: {args.calibration_seeds} disjoint chunks of the pool as seeds, {n} masks", "",
                  calibration_table(table_rows, n, args.calibration_seeds)]
    text = "\n".join(parts)
    print(text)
    if args.output:
        temporary = Path(args.output).with_suffix(".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
