"""The two sides of a pair explanation: what each item is, its features, its masks and how a map gets its shape.

Each side of :class:`~dianna_distance.pairs.PairDistanceExplainer` is an item of one of the four modalities, masked
by the features the interactions are estimated over:

============  ==============================  ==========================================================================
modality      item                            features (what a mask keeps or drops)
============  ==============================  ==========================================================================
``"text"``    a ``str``                       its words (as :class:`~dianna_distance.TextDistanceExplainer` splits them)
``"image"``   an array ``(H, W, C)``          the cells of a ``g x g`` grid (``g = feature_res``), numbered row by row
``"series"``  an array ``(T, C)``             ``S = feature_res`` segments of time (every channel of a segment at once)
``"table"``   an array ``(F,)``               the row's features
============  ==============================  ==========================================================================

The modality is told from the item (:func:`item_modality`): a ``str`` is a text, a 3-D array an image, a 2-D array
a series, a 1-D array a table row. A 2-D grayscale image, or a channels-first image, needs ``modality_a="image"``
(with ``options_a={"axis_labels": ...}`` for channels first).

**Image cells.** Cell ``(r, c)`` of a ``g x g`` grid over an ``H x W`` image is feature ``r * g + c``; pixel
``(y, x)`` belongs to cell ``(floor((y + 1/2) g / H), floor((x + 1/2) g / W))`` (the grid cuts the image into
``g`` nearly equal bands per axis). A mask keeps or drops whole cells, and is drawn as RISE draws its masks but
without the random shift: the ``g x g`` keep values resized bilinearly to ``H x W`` (the interpolation of
:func:`~dianna_distance.masks.interpolation_matrix`), so a cell's centre pixel takes its cell's value exactly and
the pixels near a cell border blend the two cells. A cell's score is shown on its pixels (:meth:`Side.to_item`).

**Series segments.** Segment ``s`` of ``S`` over ``T`` steps holds the steps ``t`` with
``floor((t + 1/2) S / T) = s``; a masked segment takes the fill of ``options={"mask_type": ...}`` (the series' mean
by default, as :class:`~dianna_distance.TimeSeriesDistanceExplainer` fills).

Every side keeps its features with probability ``p_keep`` independently (:class:`~dianna_distance.masks.WordMasks`
over the F features, drawn lazily from the side's own seed), so one joint sample is one masked item A and one
masked item B.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.image import DistanceExplainer
from dianna_distance.masks import WordMasks, interpolation_matrix
from dianna_distance.tabular import TabularDistanceExplainer
from dianna_distance.text import TextDistanceExplainer
from dianna_distance.timeseries import TimeSeriesDistanceExplainer

#: The modalities a side can have.
MODALITIES = ("text", "image", "series", "table")
#: The explainer class whose input checks, masked inputs and model loading a side of each modality uses.
EXPLAINERS: dict[str, type[MaskedDistanceExplainer]] = {
    "text": TextDistanceExplainer,
    "image": DistanceExplainer,
    "series": TimeSeriesDistanceExplainer,
    "table": TabularDistanceExplainer,
}
#: Parameters the pair explainer sets on a side itself, not accepted in ``options_a`` / ``options_b``.
OWN_PARAMETERS = ("n_masks", "p_keep", "batch_size", "random_state", "masks", "progress", "tolerance", "max_masks",
                  "distance", "weighting", "mask_selection_range_min", "mask_selection_range_max",
                  "mask_selection_negative_range_min", "mask_selection_negative_range_max", "feature_res",
                  "tokenizer", "mask_kinds", "mask_generator")


def item_modality(item: object, side: str, modality: str | None = None) -> str:
    """The modality of a side's item: the one given, or told from the item.

    Args:
        item: The item (``item_a`` or ``item_b``).
        side: ``"a"`` or ``"b"``, for messages.
        modality: ``"text"``, ``"image"``, ``"series"``, ``"table"``, or None to tell it from the item: a ``str``
            is a text; an array with 3 axes an image ``(H, W, C)``, with 2 a series ``(T, C)``, with 1 a table row.

    Raises:
        TypeError: The item is neither a ``str`` nor an array of numbers, or a given modality does not fit it.
        ValueError: An unknown modality, an empty item or an array of another number of axes.
    """
    name = f"item_{side}"
    if modality is not None and (not isinstance(modality, str) or modality not in MODALITIES):
        raise ValueError(f"modality_{side} must be None (told from item_{side}) or one of {MODALITIES}, got "
                         f"{modality!r}")
    if isinstance(item, str):
        if modality not in (None, "text"):
            raise TypeError(f"{name} is a str (a text), but modality_{side}={modality!r} needs an array")
        if not item.strip():
            raise ValueError(f"{name} is an empty text: it has no words to explain")
        return "text"
    if modality == "text":
        raise TypeError(f"modality_{side}='text' needs a str as {name}, got {type(item).__name__}")
    try:
        array = np.asarray(item)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a str (a text) or an array of numbers, got {type(item).__name__}") from error
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a str (a text) or an array of numbers, got {type(item).__name__} of "
                        f"dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}): there is nothing to explain")
    if modality is not None:
        expected = {"image": (2, 3), "series": (2,), "table": (1,)}[modality]
        if array.ndim not in expected:
            raise ValueError(f"modality_{side}={modality!r} needs an array with {' or '.join(map(str, expected))} "
                             f"axes as {name}, got shape {array.shape}")
        return modality
    told = {3: "image", 2: "series", 1: "table"}.get(array.ndim)
    if told is None:
        raise ValueError(f"{name} has shape {array.shape}: a side is a text (str), an image (H, W, C), a series "
                         f"(T, C) or a table row (F,); pass modality_{side}= to say which")
    return told


def check_options(options: object, modality: str, side: str) -> dict[str, Any]:
    """A side's ``options`` as a dict of its modality explainer's parameters (not those the pair explainer sets)."""
    name = f"options_{side}"
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise TypeError(f"{name} must be None or a dict of parameter names to values, got {options!r}")
    accepted = [parameter for parameter in inspect.signature(EXPLAINERS[modality]).parameters
                if parameter not in OWN_PARAMETERS]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        own = [key for key in unknown if key in OWN_PARAMETERS]
        hint = (f" ({', '.join(own)}: set on the pair explainer itself)" if own else "")
        raise ValueError(f"{name} has {unknown} that a {modality} side does not take{hint}; it takes {accepted}")
    return dict(options)


class RenderedMasks:
    """A side's masks in its item's shape, rendered on demand from the feature masks ``(n, F)`` (array-like).

    Supports ``len``, ``shape`` and indexing by a slice or an integer array, as the core's embedding loop takes
    masks (:class:`~dianna_distance.masks.MaskArray`).
    """

    def __init__(self, features: WordMasks | np.ndarray, render: Callable[[np.ndarray], np.ndarray],
                 mask_shape: tuple[int, ...]) -> None:
        self.features = features
        self.render = render
        self.mask_shape = mask_shape

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_masks, *mask_shape)``."""
        return (len(self.features), *self.mask_shape)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: Any, /) -> np.ndarray:
        keep = np.asarray(self.features[index])
        return self.render(keep.reshape(-1, keep.shape[-1])).reshape(*keep.shape[:-1], *self.mask_shape)


@dataclass
class Side:
    """One side of a pair: its modality, its explainer (input checks, masked inputs, model) and its features.

    Attributes:
        name: ``"a"`` or ``"b"``.
        modality: One of :data:`MODALITIES`.
        explainer: The modality's explainer, whose ``_prepare_input`` / ``_masked_batch_at`` / ``load_model`` are
            used (its own masks never are).
        prepared: The item as the explainer prepared it.
        item_shape: The shape of a map over the item: ``(H, W)``, ``(F,)`` or ``(T, C)``.
        grid: Image: ``(g, g)``; series: ``(S,)``; text and table: ``(F,)``.
        labels: One name per feature: the words, the table's feature names, ``"cell (r, c)"`` or ``"steps t0-t1"``.
    """

    name: str
    modality: str
    explainer: MaskedDistanceExplainer
    prepared: Any
    item_shape: tuple[int, ...]
    grid: tuple[int, ...]
    labels: list[str]

    @property
    def n_features(self) -> int:
        """Number of features F."""
        return int(np.prod(self.grid))

    def masks(self, n_masks: int, random_state: int, p_keep: float) -> RenderedMasks:
        """The side's ``n_masks`` masks (feature masks ``.features``, rendered masks by index)."""
        return RenderedMasks(WordMasks(self.n_features, n_masks, p_keep, random_state), self.render,
                             self.mask_shape())

    def mask_shape(self) -> tuple[int, ...]:
        """The shape of a rendered mask (what the explainer's masked inputs take)."""
        return self.item_shape

    def render(self, keep: np.ndarray) -> np.ndarray:
        """Masks ``(b, *item_shape)`` from feature keep values ``(b, F)``."""
        keep = np.asarray(keep)
        if self.modality == "image":
            g = self.grid[0]
            rows, cols = (interpolation_matrix(g, size).astype(np.float32) for size in self.item_shape)
            return rows @ keep.reshape(-1, g, g).astype(np.float32) @ cols.T
        if self.modality == "series":
            steps = segment_of_step(self.item_shape[0], self.grid[0])
            return np.repeat(keep[:, steps, None], self.item_shape[1], axis=2).astype(np.float32)
        return keep.astype(bool)

    def to_item(self, values: np.ndarray) -> np.ndarray:
        """Feature values ``(..., F)`` shown over the item, ``(..., *item_shape)``.

        An image cell's value on its pixels, a segment's on its steps and channels; text and table features as they
        are.
        """
        values = np.asarray(values)
        if self.modality == "image":
            g = self.grid[0]
            cells = values.reshape(*values.shape[:-1], g, g)
            rows, cols = (cell_of_pixel(size, g) for size in self.item_shape)
            return cells[..., rows[:, None], cols[None, :]]
        if self.modality == "series":
            steps = segment_of_step(self.item_shape[0], self.grid[0])
            return np.repeat(values[..., steps, None], self.item_shape[1], axis=-1)
        return values


def cell_of_pixel(size: int, cells: int) -> np.ndarray:
    """The cell (of ``cells`` along an axis of ``size`` pixels) of each pixel: ``floor((i + 1/2) cells / size)``."""
    return np.minimum(((np.arange(size) + 0.5) * cells / size).astype(int), cells - 1)


def segment_of_step(n_steps: int, n_segments: int) -> np.ndarray:
    """The segment of each of ``n_steps`` time steps (``n_segments`` nearly equal segments)."""
    return cell_of_pixel(n_steps, n_segments)


def make_side(name: str, item: object, modality: str | None, options: object, feature_res: int,
              tokenizer: object, batch_size: int | None, random_state: int) -> Side:
    """Check a side's item and options and prepare it: its :class:`Side`.

    Args:
        name: ``"a"`` or ``"b"``.
        item: The item.
        modality: The given modality, or None to tell it from the item.
        options: Further parameters of the modality's explainer (``mask_token``, ``training_data``,
            ``mask_type``, ``preprocess_function``, ``axis_labels``, ``providers``, ...).
        feature_res: Image: grid cells per axis; series: number of segments.
        tokenizer: A text side's tokenizer.
        batch_size: Masked items per model call (None: automatic).
        random_state: The side's seed (its masks, and a table's background rows).
    """
    modality = item_modality(item, name, modality)
    arguments = check_options(options, modality, name)
    arguments.update(batch_size=batch_size, random_state=random_state, progress=False)
    if modality == "text":
        arguments["tokenizer"] = tokenizer
    elif tokenizer is not None:
        raise ValueError(f"tokenizer_{name} is for a text, but side {name} is a {modality}")
    explainer = EXPLAINERS[modality](**arguments)
    try:
        explainer.check_parameters()
    except (TypeError, ValueError) as error:
        raise type(error)(f"options_{name}: {error}") from error
    try:
        prepared = explainer._prepare_input(item)  # noqa: SLF001 (the modality's own input check)
    except (TypeError, ValueError) as error:
        raise type(error)(f"item_{name}: {error}") from error
    if modality == "text":
        words = list(explainer.words_)  # type: ignore[attr-defined]
        return Side(name, modality, explainer, prepared, (len(words),), (len(words),), words)
    if modality == "table":
        names = list(explainer.feature_names_)  # type: ignore[attr-defined]
        return Side(name, modality, explainer, prepared, (len(names),), (len(names),), names)
    if modality == "image":
        height, width = prepared.spatial_shape
        if feature_res > min(height, width):
            raise ValueError(f"feature_res_{name} ({feature_res}) must not exceed the image's size {height} x {width}")
        labels = [f"cell ({r}, {c})" for r in range(feature_res) for c in range(feature_res)]
        return Side(name, modality, explainer, prepared, (height, width), (feature_res, feature_res), labels)
    n_steps, n_channels = prepared.values.shape
    if feature_res > n_steps:
        raise ValueError(f"feature_res_{name} ({feature_res} segments) must not exceed the series' {n_steps} steps")
    steps = segment_of_step(n_steps, feature_res)
    labels = []
    for segment in range(feature_res):
        held = np.flatnonzero(steps == segment)
        labels.append(f"steps {held[0]}-{held[-1]}")
    return Side(name, modality, explainer, prepared, (n_steps, n_channels), (feature_res,), labels)


def side_seeds(random_state: int | np.random.Generator | None) -> tuple[int, int]:
    """Two independent int seeds, one per side, from the pair explainer's ``random_state``."""
    if isinstance(random_state, np.random.Generator):
        return tuple(int(seed) for seed in random_state.integers(0, 2**63, size=2))  # type: ignore[return-value]
    state = np.random.SeedSequence(random_state).generate_state(4, dtype=np.uint64)
    return int(state[0] >> np.uint64(1)), int(state[2] >> np.uint64(1))


def same_model(model_a: object, model_b: object) -> bool:
    """Whether both sides name the same model (the same object, or the same file path): loaded once."""
    if model_a is model_b:
        return True
    paths = (str, os.PathLike)
    return isinstance(model_a, paths) and isinstance(model_b, paths) and Path(model_a) == Path(model_b)


def feature_names(labels: Sequence[str]) -> list[str]:
    """Labels made unique for lookups: a repeated word gets ``"#2"``, ``"#3"`` ... after its first occurrence."""
    seen: dict[str, int] = {}
    names = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        names.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return names
