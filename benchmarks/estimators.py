"""Which estimator gives the best map for the model calls paid, per modality (issue 24)?

Tasks (every model planted or small, so the whole run takes a few minutes on two cores):

Tables are run with the earlier defaults (``mask_type="sample"``, ``p_keep=0.5``), the mean fill at 0.5, and the
current defaults (``"mean"``, ``p_keep=0.9``).

* ``table``: 12 standard-normal features, an embedding linear in features 1, 4 and 7 only (cosine distance); truth:
  the share of the 3 planted features among the 3 largest ``|score|``; significance judged against exactly the
  planted features.
* ``wine``: the wine MLP's 8-unit hidden layer (``dianna_distance/data/wine_mlp.onnx``), a wine against the same
  wine with 2 features moved by 2 standard deviations; truth: Spearman correlation with an occlusion truth (the
  distance's rise when that feature alone takes the column mean), as ``benchmarks/peers.py`` measures it.
* ``series``: ``(64, 2)``, an embedding of steps 40-59 of channel 0 only (a tanh of a random projection); truth: the
  share of ``|score|`` inside the window; significance judged against the window plus one mask cell
  (``64 / (feature_res - 2)`` steps) either side, in channel 0.
* ``image``: ``32 x 32`` grey images, an embedding of the block rows 8-15, columns 16-27 only; truth: the share of
  ``|score|`` in the block; significance judged against the block plus one mask cell (``32 / feature_res`` pixels).

For every item the model embeds 8000 masks once (``embed_masked``); every estimator and every number of calls is
then computed from prefixes of those embeddings with ``attribute_from_embeddings`` (the masks are i.i.d., a prefix
is a run with fewer calls; paired masks are embedded once per pairing, and every count is even). Estimators: the
package's weightings (``ranges``, the paper's, ``linear``, ``regression``) on independent masks, the regression on
paired masks (``mask_pairs`` ``"complement"`` and ``"flip"``) and ``rank regression`` (``regression`` on the ranks
of the distances, through a callable ``distance``). Each estimator's *limit* is its own map at 8000 masks;
*convergence* is the Pearson correlation with it. *Calls needed*: the fewest calls (of 100, 200, 400, 1000, 2000) at
which the median over items reaches the paper's median at 1000 calls (convergence, and the truth metric).
*Significance* at 1000 calls: the share of significant features outside what the model reads (false share), and the
share of read features marked (power), means over items.

Usage::

    python benchmarks/estimators.py            # every task (a few minutes)
    python benchmarks/estimators.py --quick    # 3 items, limit 2000 (a smoke run)
    python benchmarks/estimators.py --tasks series --variants   # also the series' mask variants
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

ROOT = Path(__file__).resolve().parent.parent

GRID = (100, 200, 400, 1000, 2000)


def rank_distance(embeddings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The rank of each cosine distance, as a fraction of the run (the distance of ``rank regression``)."""
    from dianna_distance.distances import cosine_distance

    return rankdata(cosine_distance(embeddings, reference)) / len(embeddings)


ESTIMATORS: dict[str, dict] = {
    "ranges": {"weighting": "ranges", "mask_pairs": None},
    "linear": {"weighting": "linear", "mask_pairs": None},
    "regression": {"weighting": "regression", "mask_pairs": None},
    "rank regression": {"weighting": "regression", "distance": rank_distance, "mask_pairs": None},
    "regression, complement pairs": {"weighting": "regression", "mask_pairs": "complement"},
    "regression, flip pairs": {"weighting": "regression", "mask_pairs": "flip"},
}


class Task:
    """One planted (or small real) task: items, an explainer factory, a truth metric and what the model reads."""

    name: str
    n_items: int

    def items(self) -> list[tuple[object, np.ndarray]]:
        """``(input, reference)`` pairs."""
        raise NotImplementedError

    def explainer(self, **kwargs):
        """The explainer with the task's own parameters."""
        raise NotImplementedError

    def model(self, batch: np.ndarray) -> np.ndarray:
        """The planted (or real) model: a batch to embeddings ``(B, D)``."""
        raise NotImplementedError

    def truth(self, item: object, reference: np.ndarray, scores: np.ndarray) -> float:
        """The truth metric of a map (higher is better)."""
        raise NotImplementedError

    def read(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        """``(read, allowed)`` boolean maps: the features the model reads, and those a significant one may be."""
        return None


class TableTask(Task):
    """The planted table."""

    name = "table (12 features, 3 planted)"
    planted = [1, 4, 7]

    def __init__(self, n_items: int, mask_type: str = "mean", p_keep: float = 0.9) -> None:
        rng = np.random.default_rng(0)
        self.background = rng.normal(size=(300, 12)).astype(np.float32)
        self.projection = np.zeros((12, 6))
        self.projection[self.planted] = rng.normal(size=(3, 6))
        self.n_items, self.mask_type, self.p_keep = n_items, mask_type, p_keep
        self.name = f"table, mask_type={mask_type!r}, p_keep={p_keep}"

    def model(self, batch):
        """The planted (or real) model: a batch to embeddings ``(B, D)``."""
        return np.asarray(batch, np.float64) @ self.projection + 1.0

    def items(self):
        """``(input, reference)`` pairs."""
        return [(self.background[i], self.model(self.background[100 + i : 101 + i])[0]) for i in range(self.n_items)]

    def explainer(self, **kwargs):
        """The explainer with the task's own parameters."""
        from dianna_distance import TabularDistanceExplainer

        return TabularDistanceExplainer(training_data=self.background, mask_type=self.mask_type, p_keep=self.p_keep,
                                        progress=False, **kwargs)

    def truth(self, item, reference, scores):
        """The truth metric of a map (higher is better)."""
        return len(set(np.argsort(-np.abs(scores))[:3]) & set(self.planted)) / 3

    def read(self, shape):
        """``(read, allowed)`` boolean maps: the features the model reads, and those a significant one may be."""
        read = np.zeros(shape, bool)
        read[self.planted] = True
        return read, read


class WineTask(Task):
    """The wine MLP's hidden layer."""

    def __init__(self, n_items: int, mask_type: str = "mean", p_keep: float = 0.9) -> None:
        from sklearn.datasets import load_wine

        from dianna_distance.data import WINE_MODEL
        from dianna_distance.model import load_model

        self.rows = load_wine().data.astype(np.float32)
        self.onnx = load_model(str(WINE_MODEL))
        self.n_items, self.mask_type, self.p_keep = n_items, mask_type, p_keep
        self.name = f"wine MLP, mask_type={mask_type!r}, p_keep={p_keep}"

    def model(self, batch):
        """The planted (or real) model: a batch to embeddings ``(B, D)``."""
        return self.onnx(np.asarray(batch, np.float32))

    def items(self):
        """``(input, reference)`` pairs."""
        rng = np.random.default_rng(1)
        items = []
        scale = self.rows.std(axis=0)
        for i in range(self.n_items):
            row = self.rows[(i * 13) % len(self.rows)]
            moved = row.copy()
            features = rng.choice(13, size=2, replace=False)
            moved[features] += 2.0 * scale[features] * rng.choice([-1, 1], size=2)
            items.append((row, self.model(moved[None])[0]))
        return items

    def explainer(self, **kwargs):
        """The explainer with the task's own parameters."""
        from dianna_distance import TabularDistanceExplainer

        return TabularDistanceExplainer(training_data=self.rows, mask_type=self.mask_type, p_keep=self.p_keep,
                                        progress=False, **kwargs)

    def truth(self, item, reference, scores):
        """The truth metric of a map (higher is better)."""
        from dianna_distance.distances import cosine_distance

        row = np.asarray(item)
        occluded = np.repeat(row[None], 13, axis=0)
        occluded[np.arange(13), np.arange(13)] = self.rows.mean(axis=0)
        distances = cosine_distance(self.model(np.concatenate([row[None], occluded])), reference)
        return float(spearmanr(scores, distances[1:] - distances[0]).statistic)


class SeriesTask(Task):
    """The planted series."""

    window = slice(40, 60)

    def __init__(self, n_items: int, mask_kinds: object = "auto", feature_res: int = 8) -> None:
        rng = np.random.default_rng(3)
        self.projection = rng.normal(size=(20, 8)) / np.sqrt(20)
        self.series = rng.normal(size=(n_items + 1, 64, 2)) + 1.0
        self.n_items, self.mask_kinds, self.feature_res = n_items, mask_kinds, feature_res
        self.name = f"series (64, 2), mask_kinds={mask_kinds!r}, feature_res={feature_res}"

    def model(self, batch):
        """The planted (or real) model: a batch to embeddings ``(B, D)``."""
        values = np.asarray(batch, np.float64)[:, self.window, 0]
        return np.concatenate([np.tanh(values @ self.projection), np.ones((len(values), 1))], axis=1)

    def items(self):
        """``(input, reference)`` pairs."""
        return [(self.series[i], self.model(self.series[i + 1 : i + 2])[0]) for i in range(self.n_items)]

    def explainer(self, **kwargs):
        """The explainer with the task's own parameters."""
        from dianna_distance import TimeSeriesDistanceExplainer

        return TimeSeriesDistanceExplainer(mask_kinds=self.mask_kinds, feature_res=self.feature_res, progress=False,
                                           **kwargs)

    def truth(self, item, reference, scores):
        """The truth metric of a map (higher is better)."""
        weights = np.abs(np.nan_to_num(scores))
        return float(weights[self.window, 0].sum() / max(weights.sum(), 1e-300))

    def read(self, shape):
        """``(read, allowed)`` boolean maps: the features the model reads, and those a significant one may be."""
        read = np.zeros(shape, bool)
        read[self.window, 0] = True
        cell = int(np.ceil(shape[0] / (self.feature_res - 2)))
        allowed = np.zeros(shape, bool)
        allowed[max(0, self.window.start - cell) : self.window.stop + cell, 0] = True
        return read, allowed


class ImageTask(Task):
    """The planted image."""

    block = (slice(8, 16), slice(16, 28))

    def __init__(self, n_items: int) -> None:
        rng = np.random.default_rng(4)
        self.projection = rng.normal(size=(8 * 12, 8)) / np.sqrt(96)
        self.images = rng.random((n_items + 1, 32, 32, 1)).astype(np.float32)
        self.n_items = n_items
        self.name = "image (32 x 32, a block read)"

    def model(self, batch):
        """The planted (or real) model: a batch to embeddings ``(B, D)``."""
        values = np.asarray(batch, np.float64)[:, self.block[0], self.block[1], 0].reshape(len(batch), -1)
        return np.concatenate([np.tanh(3 * (values - 0.5) @ self.projection), np.ones((len(values), 1))], axis=1)

    def items(self):
        """``(input, reference)`` pairs."""
        return [(self.images[i], self.model(self.images[i + 1 : i + 2])[0]) for i in range(self.n_items)]

    def explainer(self, **kwargs):
        """The explainer with the task's own parameters."""
        from dianna_distance import DistanceExplainer

        return DistanceExplainer(axis_labels={2: "channels"}, progress=False, **kwargs)

    def truth(self, item, reference, scores):
        """The truth metric of a map (higher is better)."""
        weights = np.abs(scores)
        return float(weights[self.block].sum() / weights.sum())

    def read(self, shape):
        """``(read, allowed)`` boolean maps: the features the model reads, and those a significant one may be."""
        read = np.zeros(shape, bool)
        read[self.block] = True
        cell = 4
        allowed = np.zeros(shape, bool)
        allowed[self.block[0].start - cell : self.block[0].stop + cell,
                self.block[1].start - cell : self.block[1].stop + cell] = True
        return read, allowed


def scores(task: Task, seed: int, item: object, embeddings: np.ndarray, reference: np.ndarray, options: dict
           ) -> tuple[np.ndarray, object]:
    """The map of an estimator from the first ``len(embeddings)`` embeddings of the item's masks, and its explainer."""
    explainer = task.explainer(n_masks=len(embeddings), random_state=seed, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return explainer.attribute_from_embeddings(item, embeddings, reference), explainer


def run_task(task: Task, limit: int, grid: tuple[int, ...], estimators: dict[str, dict]) -> dict:
    """Per estimator: convergence and truth ``(items, grid)``, and significance at 1000 calls ``(items, 2)``."""
    results = {name: {"convergence": np.full((task.n_items, len(grid)), np.nan),
                      "truth": np.full((task.n_items, len(grid)), np.nan),
                      "significance": np.full((task.n_items, 2), np.nan), "seconds": 0.0} for name in estimators}
    for i, (item, reference) in enumerate(task.items()):
        embedded: dict[object, np.ndarray] = {}  # per mask_pairs: the masks differ
        for name, options in estimators.items():
            pairs = options.get("mask_pairs")
            if pairs not in embedded:
                embedded[pairs] = task.explainer(n_masks=limit, random_state=i, mask_pairs=pairs).embed_masked(
                    task.model, item)
            embeddings = embedded[pairs]
            limit_map = scores(task, i, item, embeddings[:limit], reference, options)[0]
            for g, n in enumerate(grid):
                started = time.perf_counter()
                scored, explainer = scores(task, i, item, embeddings[:n], reference, options)
                results[name]["seconds"] += time.perf_counter() - started
                finite = np.isfinite(scored) & np.isfinite(limit_map)
                results[name]["convergence"][i, g] = np.corrcoef(scored[finite], limit_map[finite])[0, 1]
                results[name]["truth"][i, g] = task.truth(item, reference, scored)
                regions = task.read(scored.shape)
                if n == 1000 and regions is not None:
                    read, allowed = regions
                    marked = explainer.significant_  # type: ignore[attr-defined]
                    results[name]["significance"][i] = (
                        (marked & ~allowed).sum() / max(marked.sum(), 1), (marked & read).sum() / read.sum())
    return results


def needed(medians: np.ndarray, target: float, grid: tuple[int, ...]) -> str:
    """The fewest calls of the grid whose median reaches ``target``."""
    reached = np.flatnonzero(medians >= target - 1e-12)
    return str(grid[reached[0]]) if len(reached) else f">{grid[-1]}"


def report(task: Task, results: dict, grid: tuple[int, ...]) -> None:
    paper = results["ranges"]
    at_1000 = grid.index(1000)
    print(f"\n## {task.name} ({task.n_items} items)\n")
    print("| estimator | convergence 200 / 1000 | calls for the paper's 1000 | truth 200 / 1000 "
          "| calls for the paper's 1000 | false share / power at 1000 |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        convergence = np.nanmedian(result["convergence"], axis=0)
        truth = np.nanmedian(result["truth"], axis=0)
        mean_truth = np.nanmean(result["truth"], axis=0)
        significance = (np.mean(result["significance"], axis=0) if np.all(np.isfinite(result["significance"]))
                        else np.full(2, np.nan))
        target_c = np.nanmedian(paper["convergence"], axis=0)[at_1000]
        target_t = np.nanmedian(paper["truth"], axis=0)[at_1000]
        shown = (f"{significance[0]:.2f} / {significance[1]:.2f}" if np.all(np.isfinite(significance)) else "-")
        print(f"| {name} | {convergence[1]:.3f} / {convergence[at_1000]:.3f} | {needed(convergence, target_c, grid)} "
              f"| {truth[1]:.2f} / {truth[at_1000]:.2f} (mean {mean_truth[1]:.2f} / {mean_truth[at_1000]:.2f}) "
              f"| {needed(truth, target_t, grid)} | {shown} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 items, limit 2000")
    parser.add_argument("--tasks", nargs="+", default=["table", "wine", "series", "image"])
    parser.add_argument("--variants", action="store_true", help="also the mask variants (fills, kinds, resolution)")
    args = parser.parse_args()
    n_items, limit = (3, 2000) if args.quick else (8, 8000)
    grid = GRID if not args.quick else (100, 200, 400, 1000)
    tasks: list[Task] = []
    for name in args.tasks:
        if name == "table":
            tasks += [TableTask(n_items, "sample", 0.5), TableTask(n_items, "mean", 0.5), TableTask(n_items)]
        elif name == "wine":
            tasks += [WineTask(n_items, "sample", 0.5), WineTask(n_items, "mean", 0.5), WineTask(n_items)]
        elif name == "series":
            tasks += [SeriesTask(n_items)]
            if args.variants:
                tasks += [SeriesTask(n_items, "time"), SeriesTask(n_items, ["time", "channel"]),
                          SeriesTask(n_items, "auto", 16)]
        elif name == "image":
            tasks += [ImageTask(max(n_items // 2, 3))]
    for task in tasks:
        started = time.perf_counter()
        results = run_task(task, limit, grid, ESTIMATORS)
        report(task, results, grid)
        print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
