"""What the evaluation metrics share: explainers with fixed masks, image axes, the deletion machinery.

The deletion machinery serves every modality: the orders, the units kept at each step, the distance curves and
their summary. The types of the metrics' arguments are here too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import check_bool, check_finite_array, check_int, check_random_state
from dianna_distance.core import MaskedDistanceExplainer, check_embeddings, check_reference
from dianna_distance.distances import DistanceLike, compute_distances, get_distance
from dianna_distance.image import AxisLabels, DistanceExplainer

RandomState = int | np.random.Generator | None
ExplainFunction = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]


def check_explainer(explainer: object, explain_func: object) -> None:
    """Check that at most one of ``explainer`` (an explainer object) and ``explain_func`` (a callable) is given."""
    if explainer is not None and not isinstance(explainer, MaskedDistanceExplainer):
        raise TypeError(f"explainer must be a DistanceExplainer (or another modality's explainer) or None, got "
                        f"{type(explainer).__name__}")
    if explain_func is not None and not callable(explain_func):
        raise TypeError(f"explain_func must be a callable (model, image, reference) -> map, got {explain_func!r}")
    if explainer is not None and explain_func is not None:
        raise ValueError("give either explainer or explain_func, not both")


def check_map(values: object, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A map returned by an explainer or ``explain_func``, as float64, checked: numeric, finite, of ``shape``.

    Args:
        values: The map.
        name: What returned it, for messages (e.g. ``"explain_func's map of noisy sample 3"``).
        shape: The shape it must have (the first map's); None to accept any shape with at least one value.

    Returns:
        Float64 array.
    """
    try:
        array = check_finite_array(values, name)
    except TypeError as error:
        raise TypeError(f"{name} must be a numeric array: {error}") from error
    if array.size == 0 or array.ndim == 0:
        raise ValueError(f"{name} must be an array map with at least one value, got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}, but the map of the original input has shape "
                         f"{tuple(shape)}")
    return array.astype(np.float64)


def explainer_params(explainer: MaskedDistanceExplainer) -> dict[str, Any]:
    """The constructor parameters of an explainer (stored verbatim by its ``__init__``)."""
    names = [name for name in inspect.signature(type(explainer).__init__).parameters if name != "self"]
    return {name: getattr(explainer, name) for name in names}


def clone_explainer(explainer: MaskedDistanceExplainer | None, **changes: Any) -> MaskedDistanceExplainer:
    """A new explainer of the class and parameters of ``explainer`` (default ``DistanceExplainer()``), changed."""
    template = DistanceExplainer() if explainer is None else explainer
    return type(template)(**{**explainer_params(template), **changes})


def explain_with_fixed_masks(
    explainer: MaskedDistanceExplainer | None, model: Any, inputs: Any, reference: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, MaskedDistanceExplainer]:
    """Explain once and return the map and an explainer that reuses that run's masks (without progress bar).

    The masks are the explainer's own (its ``masks``, or drawn with its ``random_state``); when both are None
    they are drawn from ``rng``.
    """
    template = DistanceExplainer() if explainer is None else explainer
    random_state = rng if template.random_state is None else template.random_state
    first = clone_explainer(template, progress=False, random_state=random_state)
    attribution = first.attribute(model, inputs, reference)
    masks = np.asarray(first.masks_, dtype=np.float32)
    return attribution, clone_explainer(template, masks=masks, n_masks=len(masks), progress=False, tolerance=None,
                                        mask_pairs=first.mask_pairs_)  # the run's pairs, "auto" resolved


def spatial_view(channels_axis: int | None) -> tuple:
    """Index that turns an ``(H, W)`` array into one broadcasting against the image."""
    return {None: (...,), 0: (None,), 2: (..., None)}[channels_axis]


def find_channels_axis(image: np.ndarray, axis_labels: AxisLabels) -> int | None:
    """The channels axis of the image (0, 2, or None for 2-D), found as the explainer finds it."""
    return DistanceExplainer(axis_labels=axis_labels).channels_axis(image)


def trapezoid(values: np.ndarray, positions: np.ndarray) -> float:
    """Signed area under ``values`` over ``positions`` by the trapezoid rule."""
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(positions)))


@dataclass
class DeletionCurves:
    """Distances to the reference while the units of an input (pixels, superpixels, words) are deleted.

    With ``S = n_steps`` and ``U`` units, step ``k`` has the first ``boundaries[k]`` units of an order deleted
    (``boundaries[0] == 0``: the input itself; ``boundaries[S] == U``: every unit deleted).

    Attributes:
        fractions: ``(S + 1,)`` fraction of the units deleted at each step, from 0 to 1.
        lodf: ``(S + 1,)`` distance after each step, deleting the most positive attribution first ("LoDF": the
            units that keep the input close to the reference). For a faithful explanation this rises fastest.
        hidf: ``(S + 1,)`` distance after each step, deleting the most negative attribution first ("HiDF").
            For a faithful explanation this falls, or rises slowest.
        random: ``(n_random, S + 1)`` distances for random deletion orders.
        random_mean: ``(S + 1,)`` mean of ``random`` over the orders.
        random_std: ``(S + 1,)`` standard deviation of ``random`` over the orders.
        area_lodf: Signed area between the LoDF curve and the mean random curve (trapezoid rule over
            ``fractions``); positive when LoDF lies above random, as expected.
        area_hidf: Signed area between the HiDF curve and the mean random curve; negative when expected.
        order_lodf: ``(U,)`` unit indices in LoDF deletion order.
        order_hidf: ``(U,)`` unit indices in HiDF deletion order.
        boundaries: ``(S + 1,)`` number of units deleted at each step.
    """

    fractions: np.ndarray
    lodf: np.ndarray
    hidf: np.ndarray
    random: np.ndarray
    random_mean: np.ndarray
    random_std: np.ndarray
    area_lodf: float
    area_hidf: float
    order_lodf: np.ndarray
    order_hidf: np.ndarray
    boundaries: np.ndarray


def deletion_orders(scores: np.ndarray, n_steps: int, n_random: int, random_state: RandomState
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """The deletion orders of units (pixels, superpixels, words) and the number deleted at each step.

    Args:
        scores: ``(U,)`` attribution of each unit.
        n_steps: Number of deletion steps.
        n_random: Number of random orders.
        random_state: Seed or generator for the random orders.

    Returns:
        ``(orders, boundaries)``: the most positive first ("LoDF"), the most negative first ("HiDF") and
        ``n_random`` random orders, each ``(U,)``; and ``(n_steps + 1,)`` units deleted after each step.
    """
    rng = np.random.default_rng(random_state)
    orders = [np.argsort(-scores, kind="stable"), np.argsort(scores, kind="stable")]
    orders += [rng.permutation(len(scores)) for _ in range(n_random)]
    return orders, np.round(np.linspace(0, len(scores), n_steps + 1)).astype(int)


def deletion_summary(curves: np.ndarray, boundaries: np.ndarray, n_units: int) -> dict[str, Any]:
    """The curves of the orders of :func:`deletion_orders` ``(2 + n_random, n_steps + 1)``, named and compared.

    Returns:
        The fields ``fractions``, ``lodf``, ``hidf``, ``random``, ``random_mean``, ``random_std``, ``area_lodf``
        and ``area_hidf`` of :class:`DeletionCurves`: the areas are signed, between each curve and the mean random
        one.
    """
    fractions = boundaries / n_units
    random_mean = curves[2:].mean(axis=0)
    return {"fractions": fractions, "lodf": curves[0], "hidf": curves[1], "random": curves[2:],
            "random_mean": random_mean, "random_std": curves[2:].std(axis=0),
            "area_lodf": trapezoid(curves[0] - random_mean, fractions),
            "area_hidf": trapezoid(curves[1] - random_mean, fractions)}


def check_deletion_parameters(n_steps: object, n_random: object, distance: DistanceLike, random_state: object,
                              batch_size: object = None, progress: object = True) -> None:
    """Check the parameters every deletion metric has (``n_steps`` None or at least 1, ``n_random`` at least 1)."""
    if n_steps is not None:
        check_int(n_steps, "n_steps", minimum=1)
    check_int(n_random, "n_random", minimum=1)
    get_distance(distance)
    if batch_size is not None:
        check_int(batch_size, "batch_size", minimum=1)
    check_random_state(random_state)
    check_bool(progress, "progress")


def check_one_reference(reference: Any, distance: DistanceLike) -> np.ndarray:
    """One reference embedding ``(D,)`` (or ``(1, D)``), checked, as ``(1, D)`` float64; K references are refused."""
    references = check_reference(reference, distance)
    if len(references) != 1:
        raise ValueError(f"reference must have shape (D,); evaluate one reference at a time, got shape "
                         f"{np.shape(reference)}")
    return references


def deletion_steps(n_steps: int | None, n_units: int, units: str) -> int:
    """The number of deletion steps: ``n_steps``, or one unit per step when None; at most ``n_units``."""
    steps = n_units if n_steps is None else n_steps
    if steps > n_units:
        raise ValueError(f"n_steps must be at most the number of {units} ({n_units}), got {steps}")
    return steps


def deletion_keep(orders: list[np.ndarray], boundaries: np.ndarray, n_units: int) -> np.ndarray:
    """``(len(orders), len(boundaries), n_units)`` booleans: the units still there after each step of each order."""
    keep = np.ones((len(orders), len(boundaries), n_units), dtype=bool)
    for o, order in enumerate(orders):
        for s, boundary in enumerate(boundaries):
            keep[o, s, order[:boundary]] = False
    return keep


def distance_curve(embed: Callable[[np.ndarray], object], keep: np.ndarray, reference: np.ndarray,
                   distance: DistanceLike, batch_size: int, progress: bool = False, desc: str = "Deleting",
                   unit: str = "input", noun: str = "inputs") -> np.ndarray:
    """Distances ``(len(keep),)`` to ``reference (D,)`` of the inputs with units ``keep``, one batch at a time.

    Args:
        embed: ``keep[batch] -> model output`` for the inputs with those units kept.
        keep: ``(N, ...)`` booleans, one row per input.
        reference: The reference embedding ``(D,)``.
        distance: The distance, as the explainer's.
        batch_size: Inputs per model call.
        progress: Show a progress bar (described by ``desc`` and ``unit``).
        desc: The progress bar's description.
        unit: What the progress bar counts.
        noun: What the inputs are, for messages.
    """
    distances = np.empty(len(keep))
    length = None
    with tqdm(total=len(keep), desc=desc, unit=unit, disable=not progress) as bar:
        for start in range(0, len(keep), batch_size):
            rows = keep[start : start + batch_size]
            embeddings = check_embeddings(embed(rows), len(rows), length, noun)
            if length is None and embeddings.shape[1] != len(reference):
                raise ValueError(f"reference has length {len(reference)}, but the model's embeddings have "
                                 f"length {embeddings.shape[1]}")
            length = embeddings.shape[1]
            distances[start : start + len(rows)] = compute_distances(embeddings, reference[None], distance)[0]
            bar.update(len(rows))
    return distances
