"""The Distance Explainer for time series: why is a series close to, or far from, a reference embedding?

The algorithm lives in :mod:`dianna_distance.core`; this module adds what is the series' own: DIANNA's RISE
time-series masks (:class:`~dianna_distance.timeseries_masks.TimeSeriesMasks`), masked values filled as DIANNA's
RISE fills them, and the map's shape ``(T, C)``. A series is laid out as DIANNA's time-series methods take it,
``(time steps, channels)``; the model takes a batch ``(B, T, C)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_callable, check_finite_array, check_int, warn
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import DistanceLike
from dianna_distance.layers import input_layout
from dianna_distance.model import ModelLike, OnnxModel, load_model
from dianna_distance.readers import read_series_array
from dianna_distance.regression import NOISY_RATIO, grid_cells
from dianna_distance.timeseries_masks import MASK_KINDS, TimeSeriesMasks, check_mask_kinds, segment_count

#: ``weighting="regression"`` scores a series in segments: this many per interval of a time mask's curve.
SEGMENTS_PER_INTERVAL = 4

#: What a masked value becomes, ``"mean"`` (DIANNA's default: the mean of the whole series), a number, or a
#: callable ``series (T, C) -> number or (C,)`` (one value per channel).
MaskTypeLike = str | float | Callable[[np.ndarray], object]


@dataclass
class _Series:
    """A series checked for masking: its values (float32 or float64), the fill of masked values and a buffer."""

    values: np.ndarray
    fill: np.ndarray  # () or (C,), broadcast over (B, T, C)
    buffer: np.ndarray | None = field(default=None, repr=False)


def check_series(series: object, name: str = "series") -> np.ndarray:
    """A time series ``(T, C)``: real, finite, at least one time step and one channel.

    Raises:
        TypeError: For a value that is not a real numeric array.
        ValueError: For another rank (with what to do about a 1-D series or a batch of one), an empty axis, NaN or
            infinity; the message names ``name``.
    """
    values = check_finite_array(series, name)
    if values.ndim == 1:
        raise ValueError(f"{name} must be 2-D (time steps, channels) as DIANNA takes time series, got shape "
                         f"{values.shape}: for one channel use {name}[:, None]")
    if values.ndim == 3 and values.shape[0] == 1:
        raise ValueError(f"{name} must be 2-D (time steps, channels), got shape {values.shape}: this looks like a "
                         f"batch of one series; pass {name}[0]")
    if values.ndim != 2:
        raise ValueError(f"{name} must be 2-D (time steps, channels), got shape {values.shape}")
    if min(values.shape) < 1:
        raise ValueError(f"{name} must have at least one time step and one channel, got shape {values.shape}")
    return values


def read_series(path: str | Path, name: str = "series", data: bytes | None = None
                ) -> tuple[np.ndarray, list[str] | None]:
    """A time series ``(T, C)`` from a ``.npy`` file or a ``.csv`` file, with its channel names if a header gives them.

    A ``.npy`` file holds ``(T, C)``, or ``(T,)`` for one channel. A ``.csv`` file has one row per time step and one
    column per channel, with an optional header row, read by :func:`dianna_distance.readers.read_csv_numbers` (a
    byte-order mark is dropped; a first row is a header only if none of its cells is a number, or it is pandas'
    ``0,1,...`` header over float data; a gap is refused in any row).

    Args:
        path: The file; with ``data``, the uploaded file's name.
        name: What the series is, for messages.
        data: The file's bytes (an upload); None: read ``path``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: The file cannot be read.
        ValueError: Another suffix, another rank, a cell that is not a number, rows of different lengths, NaN or
            infinity; the message names ``name`` and the file.
    """
    values, names = read_series_array(path, name, data)
    try:
        return check_series(values, name), names
    except ValueError as error:
        raise ValueError(f"{error} (in {str(path)!r})") from error


def mask_fill(series: np.ndarray, mask_type: MaskTypeLike = "mean") -> np.ndarray:
    """The value(s) masked values of ``series`` ``(T, C)`` become, as DIANNA's ``mask_type`` says: ``()`` or ``(C,)``.

    ``"mean"``: the mean of the whole series (DIANNA's default); a number; or a callable ``series -> number or
    (C,)``.

    Raises:
        ValueError, TypeError: For a fill that is not a finite number or one finite number per channel.
    """
    values = np.asarray(series)
    dtype = np.result_type(values.dtype, np.float32)
    if isinstance(mask_type, str):
        if mask_type != "mean":
            raise ValueError(f"mask_type must be 'mean', a number or a callable series -> value, got {mask_type!r}")
        return np.asarray(np.mean(values), dtype=dtype)
    fill = mask_type(values) if callable(mask_type) else mask_type
    what = "the value returned by mask_type" if callable(mask_type) else "mask_type"
    try:
        fill = check_finite_array(fill, what)
    except TypeError as error:
        raise TypeError(f"{what} must be a number or an array (C,) of numbers: {error}") from error
    if fill.shape not in ((), (1,), (values.shape[1],)):
        raise ValueError(f"{what} must be a number or one number per channel ({values.shape[1]},), got shape "
                         f"{fill.shape}")
    return fill.astype(dtype)


def masked_series(series: np.ndarray, masks: np.ndarray, fill: np.ndarray, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """``series * masks + fill * (1 - masks)``, ``(B, T, C)``: kept values exactly (mask 1), masked ones the fill.

    Args:
        series: ``(T, C)``.
        masks: ``(B, T, C)`` in [0, 1] (booleans: True kept).
        fill: ``()`` or ``(C,)``, from :func:`mask_fill`.
        out: Optional buffer ``(B, T, C)`` of the series' dtype.
    """
    masks = np.asarray(masks).astype(series.dtype, copy=False)
    masked = np.multiply(series, masks, out=out)
    masked += fill * (1 - masks)
    return masked


class TimeSeriesDistanceExplainer(MaskedDistanceExplainer):
    """Explain the distance between a time series' embedding and a reference embedding with a map over the series.

    The series ``(T, C)`` is masked ``n_masks`` times with DIANNA's RISE time-series masks (groups of adjacent time
    steps, whole channels, or both; see :mod:`dianna_distance.timeseries_masks`); masked values become the fill of
    ``mask_type``; every masked series is embedded by the model and its distance to the reference computed; the
    map is by default the least-squares effect of keeping each segment of each channel on the distance
    (``weighting="regression"``; every mask enters, and segments masked together are separated), or with
    ``weighting="ranges"`` the paper's mean of the closest masks minus the mean of the farthest (see
    :class:`~dianna_distance.core.MaskedDistanceExplainer` for the shared parameters and attributes). Positive
    values mark values whose presence brings the series closer to the reference.

    The defaults of the masks are DIANNA's RISE for time series (``feature_res=8``, ``p_keep=0.5``,
    ``mask_type="mean"``); ``n_masks`` and the selection ranges are the Distance Explainer's; the weighting is
    chosen by measurement (``benchmarks/estimators.py``, docs/performance.md).

    Args:
        n_masks: Number of masks (model evaluations).
        feature_res: Number of random values of a time mask's curve, at least 3 (DIANNA's ``feature_res``).
        p_keep: Fraction of the values kept by a mask, in (0, 1].
        mask_kinds: ``"auto"`` (default: ``"segments"``, each channel cut into ``feature_res * sqrt(T) / 4`` equal
            segments, 16 of 64 steps at ``feature_res=8``
            (:func:`~dianna_distance.timeseries_masks.segment_count`), each kept independently with ``p_keep``;
            chosen by measurement, docs/timeseries.md),
            ``"dianna"`` (DIANNA's: time masks for one channel, time, channel and combined masks in equal shares for
            several), or one or more of ``"time"``, ``"channel"``, ``"combined"``, ``"segments"``.
        mask_type: What a masked value becomes, DIANNA's ``mask_type``: ``"mean"`` (the mean of the whole series,
            DIANNA's default), a number, or a callable ``series (T, C) -> number or array (C,)`` (per channel).
        mask_selection_range_min: Lower end of the positive selection, a fraction of the ranking in [0, 1].
        mask_selection_range_max: Upper end of the positive selection.
        mask_selection_negative_range_min: Lower end of the negative selection.
        mask_selection_negative_range_max: Upper end of the negative selection.
        weighting: ``"regression"`` (default for series: every mask enters; a segment's score is how much the
            distance falls when the segment is kept rather than filled, separated from the segments masked with it;
            see :mod:`dianna_distance.regression`; 4 segments per interval of a time mask's curve, per channel),
            or the rank weightings
            ``"ranges"`` (the paper's, the earlier default), ``"linear"`` or ``"normal"``.
        batch_size: Masked series per model call. Default: automatic.
        preprocess_function: Applied to each batch of masked series ``(B, T, C)`` before the model.
        distance: ``"cosine"``, ``"euclidean"``, or a callable ``(embeddings (N, D), reference (D,)) -> (N,)``.
        random_state: Seed (int) or :class:`numpy.random.Generator` for the masks.
        masks: Masks to use instead of drawn ones, ``(n_masks, T, C)``, values in [0, 1] (1: kept; a fraction
            blends the value and the fill).
        progress: Show a progress bar.
        providers: ONNX Runtime execution providers when the model is an ONNX file.
        embedding_output: For an ONNX file: the name of an inner tensor to use as the embedding (passed to
            :func:`~dianna_distance.model.load_model`); None: the graph's first output.
        tolerance: Add ``n_masks`` masks at a time until the map's estimated spread is at most this (None: off).
        max_masks: Upper limit on the number of masks with ``tolerance``.
        mask_pairs: ``"auto"`` (default: ``"flip"`` with segments masks, None with other kinds), None
            (independent masks), ``"complement"`` or ``"flip"`` (segments masks only): masks in pairs, the second
            the first with one segment of one channel flipped, each in turn, or the first's complement (see the
            core class). With ``"flip"`` a segment's regression score is the mean change of the distance when that
            segment alone is masked (or kept), and a segment the model ignores scores exactly 0 (chosen by
            measurement, docs/performance.md).

    Example:
        >>> explainer = TimeSeriesDistanceExplainer(n_masks=500, random_state=0)
        >>> scores = explainer.attribute(model, series, reference)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_masks: int = 1000,
        feature_res: int = 8,
        p_keep: float = 0.5,
        mask_kinds: str | Sequence[str] = "auto",
        mask_type: MaskTypeLike = "mean",
        mask_selection_range_min: float = 0.0,
        mask_selection_range_max: float = 0.1,
        mask_selection_negative_range_min: float = 0.9,
        mask_selection_negative_range_max: float = 1.0,
        weighting: str = "regression",
        batch_size: int | None = None,
        preprocess_function: Callable[[np.ndarray], np.ndarray] | None = None,
        distance: DistanceLike = "cosine",
        random_state: int | np.random.Generator | None = None,
        masks: np.ndarray | None = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
        embedding_output: str | None = None,
        tolerance: float | None = None,
        max_masks: int = 10_000,
        mask_pairs: str | None = "auto",
    ) -> None:
        self._store_shared_parameters(locals())
        self.feature_res = feature_res
        self.mask_kinds = mask_kinds
        self.mask_type = mask_type
        self.preprocess_function = preprocess_function
        self.providers = providers
        self.embedding_output = embedding_output

    def attribute(self, model: ModelLike, series: np.ndarray, embedded_reference: np.ndarray) -> np.ndarray:
        """Explain why ``series`` is close to or far from ``embedded_reference`` in the model's embedded space.

        Args:
            model: Path to an ONNX file, or a callable mapping a batch ``(B, T, C)`` to embeddings ``(B, D)``.
            series: ``(T, C)``: time steps, channels (DIANNA's layout; one channel is ``(T, 1)``).
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Map ``(T, C)`` for a ``(D,)`` reference, ``(K, T, C)`` for ``(K, D)``.

        Raises:
            ValueError: For an ONNX model without a ``preprocess_function`` whose input is not ``(N, T, C)`` for
                this series, naming both shapes, before the model runs.
        """
        if isinstance(model, (str, Path)):
            self._validate_parameters()
            model = self.load_model(model)
        if isinstance(model, OnnxModel) and self.preprocess_function is None:
            check_series_fits_model(np.shape(series), model)
        return super().attribute(model, series, embedded_reference)

    # -- the time-series modality ---------------------------------------------------------------------------------

    _input_noun = "series"

    def _prepare_input(self, series: np.ndarray) -> _Series:
        values = check_series(series, "series")
        values = values.astype(np.result_type(values.dtype, np.float32), copy=False)
        check_mask_kinds(self.mask_kinds, values.shape[1])
        return _Series(values, mask_fill(values, self.mask_type))

    def _draw_masks(self, prepared: _Series, n_masks: int) -> TimeSeriesMasks:
        return TimeSeriesMasks(prepared.values.shape, n_masks, self.feature_res, self.p_keep, self.mask_kinds,
                               self.random_state, self._pairing())

    def _auto_pairing(self) -> str | None:
        """``mask_pairs="auto"``: ``"flip"`` with segments masks only (the default), else None."""
        segments = isinstance(self.mask_kinds, str) and self.mask_kinds == "auto"
        return "flip" if segments or check_mask_kinds(self.mask_kinds) == ("segments",) else None

    def _feature_shape(self, prepared: _Series) -> tuple[int, int]:
        return prepared.values.shape

    def _regression_cells(self, feature_shape: tuple[int, ...], n_masks: int) -> np.ndarray:
        """``weighting="regression"``: per channel, segments of adjacent time steps.

        With segments masks only (the default), exactly the masks' segments (:func:`segment_count`); else
        :data:`SEGMENTS_PER_INTERVAL` segments per interval of a time mask's curve (``feature_res - 2`` intervals),
        at least one step each; fewer, with a warning, when ``n_masks`` is too small for that many cells (paired
        masks: ``n_masks // 2`` differences).
        """
        length, channels = int(feature_shape[0]), int(feature_shape[1])
        if check_mask_kinds(self.mask_kinds, channels) == ("segments",):
            wanted = segment_count(length, int(self.feature_res))
        else:
            wanted = min(length, SEGMENTS_PER_INTERVAL * (int(self.feature_res) - 2))
        if self._pairing() is None:
            affordable, needed = max(1, (n_masks // NOISY_RATIO - 1) // channels), NOISY_RATIO * (wanted * channels + 1)
        else:  # paired masks: n_masks // 2 differences, no intercept
            affordable, needed = max(1, n_masks // 2 // NOISY_RATIO // channels), 2 * NOISY_RATIO * wanted * channels
        if affordable < wanted:
            warn(f"weighting='regression': {n_masks} masks afford {affordable} segments per channel of {channels} "
                 f"channels, not {wanted}: the scores are coarser in time; use n_masks of at least {needed} for "
                 "the full resolution", stacklevel=5)
        return grid_cells((length, channels), min(wanted, affordable), channels)

    def _input_size(self, prepared: _Series) -> int:
        return prepared.values.size

    def _masked_batch(self, prepared: _Series, masks: np.ndarray) -> np.ndarray:
        """``series * mask + fill * (1 - mask)``, ``(b, T, C)``: kept values exactly, masked ones the fill."""
        values = prepared.values
        if prepared.buffer is None or len(prepared.buffer) < len(masks):
            prepared.buffer = np.empty((len(masks), *values.shape), dtype=values.dtype)
        masked = masked_series(values, masks, prepared.fill, out=prepared.buffer[: len(masks)])
        return masked if self.preprocess_function is None else self.preprocess_function(masked)

    def load_model(self, model: ModelLike) -> Callable:
        """The model as a callable: an ONNX file in one ONNX Runtime session, or the callable itself."""
        if self.embedding_output is None:
            return load_model(model, providers=self.providers)
        return load_model(model, providers=self.providers, embedding_output=self.embedding_output)

    def _validate_modality(self) -> None:
        check_int(self.feature_res, "feature_res", minimum=3)
        check_mask_kinds(self.mask_kinds)
        check_callable(self.preprocess_function, "preprocess_function", "(batch) -> batch")
        mask_type = self.mask_type
        if isinstance(mask_type, str):
            if mask_type != "mean":
                raise ValueError(f"mask_type must be 'mean', a number or a callable series -> value, got "
                                 f"{mask_type!r}")
        elif not callable(mask_type) and not (isinstance(mask_type, (numbers.Real, np.ndarray))
                                              and not isinstance(mask_type, bool)):
            raise TypeError(f"mask_type must be 'mean', a number, an array (C,) or a callable series -> value, got "
                            f"{mask_type!r}")
        if self.embedding_output is not None and not isinstance(self.embedding_output, str):
            raise TypeError(f"embedding_output must be None or the name of a tensor (str), got "
                            f"{self.embedding_output!r}")


#: The transpose that feeds a channels-first model ``(N, C, T)`` the explainer's batches ``(B, T, C)``.
CHANNELS_FIRST_FIX = ("preprocess_function=lambda batch: batch.transpose(0, 2, 1) (the command line: "
                      "--channels-first), with the reference series embedded the same way")


def check_series_fits_model(series_shape: tuple[int, ...], model: OnnxModel) -> None:
    """Check that a series ``(T, C)`` is one item of an ONNX model's input ``(N, T, C)`` (fixed axes must match).

    A model whose graph reads its input channels first, ``(N, C, T)`` (a ``Conv`` on the input, as PyTorch exports
    ``Conv1d``; see :func:`~dianna_distance.layers.input_layout`), is refused whatever the shapes, with the
    transpose to use: fed ``(B, T, C)``, it would read the series' T time steps as channels.

    Raises:
        ValueError: A channels-first model, or a series that is not one item of the model's input.
    """
    layout, operator = input_layout(model.path)
    if layout == "channels_first":
        raise ValueError(f"model {str(model.path)!r} reads its input channels first, (N, channels, time steps), as "
                         f"PyTorch exports Conv1d (its input goes into a {operator}); the explainer feeds series "
                         f"(N, time steps, channels), so the {series_shape[0]} time steps of this series would be "
                         f"read as channels. Transpose each batch: {CHANNELS_FIRST_FIX}")
    expected = tuple(model.input_shape[1:])
    fits = len(expected) == len(series_shape) and all(
        not isinstance(n, int) or n <= 0 or n == size for n, size in zip(expected, series_shape))
    if not fits:
        shown = tuple(n if isinstance(n, int) and n > 0 else "?" for n in expected)
        transposed = len(expected) == 2 and all(
            not isinstance(n, int) or n <= 0 or n == size for n, size in zip(expected, series_shape[::-1]))
        hint = (f"; the series transposed, {tuple(series_shape[::-1])}, would fit: if the model takes (N, channels, "
                f"time steps), transpose each batch ({CHANNELS_FIRST_FIX}); if the series is laid out (channels, "
                "time steps), pass series.T" if transposed else "")
        raise ValueError(f"series has shape {tuple(series_shape)} (time steps, channels), but model "
                         f"{str(model.path)!r} takes input of shape {list(model.input_shape)}, one item of which is "
                         f"{shown}{hint}")


__all__ = ["MASK_KINDS", "TimeSeriesDistanceExplainer", "check_series", "check_series_fits_model", "mask_fill",
           "masked_series", "read_series"]
