"""The peers of ``benchmarks/peers.py``: SHAP, LIME, DIANNA's RISE and xaitk-saliency, each charged every model row.

Also the model-call counter and the task and item records the peers are given; ``peers.py`` says what is measured.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# -- counting model calls --------------------------------------------------------------------------------------------


class Counter:
    """The model, wrapped: counts the rows sent to it and the seconds spent in it.

    Args:
        embed: The model, ``(B, ...) -> (B, D)``.
        reference: ``(D,)``.
        distance: The package's distance name.
    """

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], reference: np.ndarray, distance: str) -> None:
        self._embed, self.reference, self.distance = embed, np.asarray(reference, np.float64), distance
        self.rows, self.calls, self.seconds = 0, 0, 0.0

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Embeddings ``(B, D)`` of a batch, counted."""
        start = time.perf_counter()
        out = np.asarray(self._embed(np.asarray(batch, np.float32)), np.float64)
        self.seconds += time.perf_counter() - start
        self.rows += len(batch)
        self.calls += 1
        return out

    def score(self, batch: np.ndarray) -> np.ndarray:
        """``f = -distance(embed(batch), reference)``, ``(B,)``: what the peers explain."""
        return -distance_to(self.embed(batch), self.reference, self.distance)


def distance_to(embeddings: np.ndarray, reference: np.ndarray, distance: str) -> np.ndarray:
    """The package's distance of each embedding to one reference, ``(N,)``."""
    from dianna_distance.distances import compute_distances

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compute_distances(np.asarray(embeddings, np.float64), np.asarray(reference)[None], distance)[0]


# -- tasks and items ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One explained input: the input, the reference embedding, what the metric needs, a seed."""

    x: np.ndarray
    reference: np.ndarray
    truth: Any
    seed: int


@dataclass
class Task:
    """A task: the model, the items, our explainer with its fixed arguments, the peers and the metric."""

    name: str
    title: str
    metric: str
    modality: str
    embed: Callable[[np.ndarray], np.ndarray]
    distance: str
    items: list[Item]
    explainer: type
    fixed: dict[str, Any]
    peers: dict[str, Callable[[Task, Item, int, Counter], np.ndarray]]
    score: Callable[[Task, Item, np.ndarray], float]
    extra: dict[str, Any] = field(default_factory=dict)


# -- the peers -------------------------------------------------------------------------------------------------------


def shap_kernel(rows: np.ndarray, background: np.ndarray, function: Callable, budget: int, seed: int) -> np.ndarray:
    """SHAP's KernelExplainer: one call on the background row, one on the row, ``budget - 2`` samples."""
    import shap

    np.random.seed(seed)  # KernelExplainer samples with numpy's global generator
    explainer = shap.KernelExplainer(function, background)
    return np.asarray(explainer.shap_values(rows[None], nsamples=budget - 2, silent=True)).reshape(-1)


def shap_permutation(rows: np.ndarray, background: np.ndarray, function: Callable, budget: int,
                     seed: int) -> np.ndarray:
    """SHAP's PermutationExplainer with ``max_evals=budget`` (whole permutations: it may use a few rows less)."""
    import shap

    explainer = shap.PermutationExplainer(function, shap.maskers.Independent(background), seed=seed)
    return np.asarray(explainer(rows[None], max_evals=budget, silent=True).values).reshape(-1)


def lime_binary(function: Callable[[np.ndarray], np.ndarray], n_features: int, budget: int, seed: int) -> np.ndarray:
    """LIME on binary features (segments), as ``lime_image`` does it: the first sample keeps everything."""
    from lime.lime_base import LimeBase
    from sklearn.metrics import pairwise_distances

    rng = np.random.default_rng(seed)
    data = rng.integers(0, 2, size=(budget, n_features))
    data[0] = 1
    labels = function(data)[:, None]
    distances = pairwise_distances(data, data[0:1], metric="cosine").ravel()
    base = LimeBase(lambda d: np.sqrt(np.exp(-(d**2) / 0.25**2)), random_state=np.random.RandomState(seed))
    _, explanation, _, _ = base.explain_instance_with_data(data, labels, distances, 0, n_features)
    scores = np.zeros(n_features)
    for index, weight in explanation:
        scores[index] = weight
    return scores


def tabular_peers() -> dict[str, Callable[[Task, Item, int, Counter], np.ndarray]]:
    def kernel(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        return shap_kernel(item.x, task.extra["background"].mean(axis=0)[None], counter.score, budget, item.seed)

    def permutation(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        return shap_permutation(item.x, task.extra["background"].mean(axis=0)[None], counter.score, budget,
                                item.seed)

    def lime(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        from lime.lime_tabular import LimeTabularExplainer

        explainer = LimeTabularExplainer(task.extra["background"], mode="regression", random_state=item.seed)
        explanation = explainer.explain_instance(item.x, counter.score, num_features=len(item.x),
                                                 num_samples=budget)
        scores = np.zeros(len(item.x))
        for index, weight in explanation.local_exp[1]:  # key 1: the prediction's weights (key 0 is negated)
            scores[index] = weight
        return scores

    return {"SHAP Kernel": kernel, "SHAP Permutation": permutation, "LIME": lime}


def segment_function(item: Item, segment: int, counter: Counter) -> tuple[Callable, np.ndarray]:
    """``z (n, M) -> f`` over segments of ``segment`` steps (masked steps: the series mean), and the step segments."""
    series = item.x
    segments = np.arange(len(series)) // segment
    fill = series.mean()

    def function(keep: np.ndarray) -> np.ndarray:
        steps = np.asarray(keep, np.float64)[:, segments][..., None]
        return counter.score(series[None] * steps + fill * (1 - steps))

    return function, segments


def series_peers() -> dict[str, Callable[[Task, Item, int, Counter], np.ndarray]]:
    def on_segments(method: Callable) -> Callable[[Task, Item, int, Counter], np.ndarray]:
        def run(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
            function, segments = segment_function(item, task.extra["segment"], counter)
            n_segments = int(segments.max()) + 1
            return method(function, n_segments, budget, item.seed)[segments]
        return run

    def kernel(function: Callable, n: int, budget: int, seed: int) -> np.ndarray:
        return shap_kernel(np.ones(n), np.zeros((1, n)), function, budget, seed)

    def permutation(function: Callable, n: int, budget: int, seed: int) -> np.ndarray:
        return shap_permutation(np.ones(n), np.zeros((1, n)), function, budget, seed)

    def rise(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        from dianna.methods.rise_timeseries import RISETimeseries

        np.random.seed(item.seed)  # DIANNA's masks come from numpy's global generator
        saliency = RISETimeseries(n_masks=budget, feature_res=8, p_keep=0.5).explain(
            lambda batch: counter.score(batch)[:, None], item.x.astype(np.float32), labels=[0], batch_size=100,
            mask_type="mean")[0, :, 0]
        return saliency - saliency.mean()  # E[f | kept] relative to its mean: -distance is negative everywhere

    return {"SHAP Kernel (segments)": on_segments(kernel), "SHAP Permutation (segments)": on_segments(permutation),
            "LIME (segments)": on_segments(lime_binary), "DIANNA RISE": rise}


def image_peers() -> dict[str, Callable[[Task, Item, int, Counter], np.ndarray]]:
    def rise(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        from dianna.methods.rise_image import RISEImage

        np.random.seed(item.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saliency = RISEImage(n_masks=budget, feature_res=8, p_keep=0.5).explain(
                lambda batch: counter.score(batch)[:, None], item.x, labels=[0], batch_size=50)[0]
        return saliency - saliency.mean()

    def xaitk(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        from xaitk_saliency.impls.gen_descriptor_sim_sal.similarity_scoring import SimilarityScoring
        from xaitk_saliency.impls.perturb_image.rise import RISEGrid

        masks = RISEGrid(n=budget - 1, s=8, p1=0.5, seed=item.seed).perturb(item.x)  # 1: kept
        explained = counter.embed(item.x[None])[0]
        perturbed = np.concatenate([counter.embed(item.x[None] * masks[start : start + 50, ..., None])
                                    for start in range(0, len(masks), 50)])
        # scipy's cosine distance is 1 - cos, twice the package's (1 - cos) / 2: the same map after its scaling
        metric = "cosine" if counter.distance == "cosine" else "euclidean"
        return SimilarityScoring(metric).generate(explained, counter.reference[None], perturbed, masks)[0]

    def lime(task: Task, item: Item, budget: int, counter: Counter) -> np.ndarray:
        from lime.lime_image import LimeImageExplainer

        explanation = LimeImageExplainer(random_state=item.seed).explain_instance(
            item.x.astype(np.float64), lambda batch: counter.score(batch)[:, None], labels=(0,), top_labels=None,
            hide_color=0, num_samples=budget, batch_size=50, random_seed=item.seed)
        weights = dict(explanation.local_exp[0])
        return np.vectorize(lambda segment: weights.get(segment, 0.0))(explanation.segments).astype(np.float64)

    return {"DIANNA RISE": rise, "xaitk similarity RISE": xaitk, "LIME image": lime}
