"""DIANNA's RISE time-series masks, drawn lazily and reproducibly.

The masks are those of DIANNA's :func:`dianna.utils.maskers.generate_time_series_masks`, shape ``(T, C)`` each,
True where a value is kept:

- **time** masks mask every channel at once for groups of adjacent time steps: a random curve over the series
  (``feature_res`` uniform random values, linearly interpolated over ``T`` steps from a random offset, as DIANNA's
  ``_project_grids_to_masks``) is masked at its lowest ``n`` steps, ``n`` being ``T * (1 - p_keep)`` rounded up or
  down at random so that its mean is exact (DIANNA's ``_determine_number_masked``), and at least 1 and at most
  ``T - 1``;
- **channel** masks mask whole channels: ``C * (1 - p_keep)`` channels (rounded the same way) chosen at random;
- **combined** masks are the product of a time mask and a channel mask, each with ``sqrt(p_keep)``.

Not DIANNA's, this package's (the default, chosen by measurement: docs/timeseries.md):

- **segments** masks cut each channel into :func:`segment_count` equal segments of adjacent time steps (as
  :func:`~dianna_distance.regression.grid_cells` does) and keep each segment of each channel independently with
  probability ``p_keep``: binary, independent cells, as LIME and SHAP mask a series, so a local effect is not spread
  over neighbouring steps, and the regression estimator's cells are exactly these segments.

DIANNA uses time masks for a univariate series and a third of each kind for a multivariate one; here the kinds
take turns by a mask's position in its block of :data:`~dianna_distance.masks.BLOCK_SIZE` masks (so every prefix
of the set, as a ``tolerance`` run uses, holds the kinds in equal shares). Unlike DIANNA's function, the draws come
from :class:`numpy.random.Generator` objects, one per block (:class:`~dianna_distance.masks.LazyMasks`), never the
global RNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from dianna_distance.checks import warn
from dianna_distance.masks import BLOCK_SIZE, LazyMasks

#: The kinds of time-series masks.
MASK_KINDS = ("time", "channel", "combined", "segments")
#: A ``segments`` mask has ``feature_res / SQRT_STEPS_DIVISOR`` segments per square root of the series length (2 per
#: root at the default ``feature_res=8``: 16 segments of 4 steps for 64 steps, 11 for 28).
SQRT_STEPS_DIVISOR = 4
#: Masks of a block are kept rendered when the block holds at most this many values (1 MiB of booleans).
RENDERED_VALUES = 2**20


#: DIANNA's kinds for several channels (``"auto"`` there before the segments masks).
DIANNA_KINDS = ("time", "channel", "combined")


def default_mask_kinds(n_channels: int) -> tuple[str, ...]:
    """The default, ``"auto"``: independent segments per channel, whatever the number of channels."""
    return ("segments",)


def dianna_mask_kinds(n_channels: int) -> tuple[str, ...]:
    """DIANNA's choice: time masks for one channel, its three kinds in equal shares for several."""
    return ("time",) if n_channels == 1 else DIANNA_KINDS


def segment_count(length: int, feature_res: int) -> int:
    """Segments per channel of a ``segments`` mask: ``feature_res * sqrt(length) / 4`` rounded, in ``[1, length]``.

    The rule was chosen by measurement (benchmarks/peers.py, docs/timeseries.md): segments of about
    ``sqrt(length) / 2`` steps (4 steps of 64, 2.5 of 28) localised a planted bump best on both series tasks.
    """
    return int(max(1, min(int(length), round(int(feature_res) * np.sqrt(int(length)) / SQRT_STEPS_DIVISOR))))


def segment_of_step(length: int, n_segments: int) -> np.ndarray:
    """The segment of each time step, ``(length,)``: equal segments (sizes differ by at most one step)."""
    return np.minimum(np.arange(length) * n_segments // length, n_segments - 1)


@overload
def check_mask_kinds(mask_kinds: object, n_channels: int) -> tuple[str, ...]: ...


@overload
def check_mask_kinds(mask_kinds: object, n_channels: None = None) -> tuple[str, ...] | None: ...


def check_mask_kinds(mask_kinds: object, n_channels: int | None = None) -> tuple[str, ...] | None:
    """``mask_kinds`` as a tuple of kinds (None for ``"auto"`` without a channel count); checked.

    Args:
        mask_kinds: ``"auto"`` (:func:`default_mask_kinds`), ``"dianna"`` (:func:`dianna_mask_kinds`), one kind or
            a sequence of kinds of :data:`MASK_KINDS`.
        n_channels: The series' number of channels, to resolve ``"auto"`` and refuse channel masks of one channel.
    """
    if isinstance(mask_kinds, str) and mask_kinds == "auto":
        return None if n_channels is None else default_mask_kinds(n_channels)
    if isinstance(mask_kinds, str) and mask_kinds == "dianna":
        return None if n_channels is None else dianna_mask_kinds(n_channels)
    kinds = (mask_kinds,) if isinstance(mask_kinds, str) else mask_kinds
    if (not isinstance(kinds, (tuple, list)) or not kinds
            or not all(isinstance(kind, str) and kind in MASK_KINDS for kind in kinds) or len(set(kinds)) < len(kinds)):
        raise ValueError(f"mask_kinds must be 'auto', 'dianna', or one or more distinct kinds of {MASK_KINDS}, got "
                         f"{mask_kinds!r}")
    kinds = tuple(kinds)
    if n_channels == 1 and set(kinds) & {"channel", "combined"}:
        raise ValueError(f"mask_kinds {kinds!r} mask whole channels, but the series has one channel: use 'time' "
                         "or 'segments' (or 'auto')")
    return kinds


def _stochastic_count(mean: np.ndarray, uniform: np.ndarray, length: int) -> np.ndarray:
    """DIANNA's number of masked elements: ``mean`` rounded up or down at random, clamped to ``[1, length - 1]``."""
    floor = np.floor(mean)
    return np.clip(floor + (uniform < mean - floor), 1, max(length - 1, 1)).astype(int)


def _lowest(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """True except at the ``counts[i]`` smallest values of each row (ties: earlier first, as DIANNA's heapq)."""
    rows = np.arange(len(values))
    threshold = np.sort(values, axis=1)[rows, counts - 1]
    keep = values > threshold[:, None]
    tied = np.flatnonzero((~keep).sum(axis=1) != counts)  # a tie at the threshold: rank those rows exactly
    if len(tied):
        ranks = np.argsort(np.argsort(values[tied], axis=1, kind="stable"), axis=1, kind="stable")
        keep[tied] = ranks >= counts[tied, None]
    return keep


class TimeSeriesMasks(LazyMasks):
    """DIANNA's RISE time-series masks and segments masks ``(n_masks, T, C)``, booleans (True: kept), drawn lazily.

    Args:
        series_shape: ``(T, C)`` of the series to mask.
        n_masks: Number of masks.
        feature_res: Number of random values of a time mask's curve (about ``feature_res - 1`` segments along
            time), at least 3; a segments mask has :func:`segment_count` segments per
            channel.
        p_keep: Fraction of the values kept, in (0, 1].
        mask_kinds: ``"auto"`` (segments masks), ``"dianna"`` (DIANNA's choice), one
            kind or a sequence of kinds of :data:`MASK_KINDS`.
        random_state: Seed or generator (a generator is advanced once, to seed the set).
        pairing: None, ``"complement"`` or ``"flip"``: pairs of masks (:class:`~dianna_distance.masks.LazyMasks`),
            whose cells are the segments of each channel; segments masks only (``mask_kinds`` ``"auto"`` or
            ``"segments"``).

    Attributes:
        keep_rendered: Whether drawn blocks are kept as rendered masks (blocks of at most :data:`RENDERED_VALUES`
            values), else rendered each time they are read; the masks are the same.
    """

    dtype = np.dtype(bool)
    _keys_index = -1  # the segments' keys, the last of a block's draws

    def __init__(self, series_shape: Sequence[int], n_masks: int, feature_res: int = 8, p_keep: float = 0.5,
                 mask_kinds: str | Sequence[str] = "auto",
                 random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
                 pairing: str | None = None) -> None:
        super().__init__(n_masks, random_state, pairing)
        self.feature_shape = (int(series_shape[0]), int(series_shape[1]))
        length, channels = self.feature_shape
        self.kinds = check_mask_kinds(mask_kinds, channels)
        if self.pairing is not None and self.kinds != ("segments",):
            raise ValueError(f"mask_pairs={self.pairing!r} pairs masks of independent cells: it needs mask_kinds "
                             f"'segments' (or 'auto'), got {mask_kinds!r}")
        self.feature_res = int(feature_res)
        if self.feature_res < 3:
            raise ValueError(f"feature_res must be at least 3 (a time mask's curve spans feature_res - 2 intervals), "
                             f"got {feature_res}")
        self.p_keep = float(p_keep)
        self.n_segments = segment_count(length, self.feature_res)
        # Small masks are kept as drawn, rendered (a block at most RENDERED_VALUES booleans): a run reads each mask
        # twice (for the model, and for the map), and rendering costs more than keeping them.
        self.keep_rendered = BLOCK_SIZE * length * channels <= RENDERED_VALUES
        uses_time = set(self.kinds) & {"time", "combined"}
        if uses_time and length < 2:
            raise ValueError("series must have at least 2 time steps for time masks (mask_kinds 'time', "
                             f"'combined'), got {length}")
        # The clamps of DIANNA's mask counts, said once (DIANNA warns per mask); combined masks are left out: their
        # two factors keep sqrt(p_keep) each, so small series always meet the clamp there, by design.
        for kind, size, noun in (("time", length, "time step"), ("channel", channels, "channel")):
            masked = size * (1 - self.p_keep)
            if kind in self.kinds and masked < 1:
                warn(f"p_keep={self.p_keep} masks fewer than one {noun} of {size} on average: as DIANNA does, every "
                     f"{kind} mask masks at least one", stacklevel=4)
            elif kind in self.kinds and masked > size - 1:
                warn(f"p_keep={self.p_keep} masks more than {size - 1} of {size} {noun}s on average: as DIANNA "
                     f"does, every {kind} mask keeps at least one", stacklevel=4)

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        # Every block draws the values of BLOCK_SIZE masks, so a short last block draws the same as a full one.
        grids = rng.random((BLOCK_SIZE, self.feature_res))[:length]
        offsets = rng.random(BLOCK_SIZE)[:length]
        time_rounding = rng.random(BLOCK_SIZE)[:length]
        channel_keys = rng.random((BLOCK_SIZE, self.feature_shape[1]))[:length]
        channel_rounding = rng.random(BLOCK_SIZE)[:length]
        kinds = np.arange(length) % len(self.kinds)
        # Drawn last, and only when used, so that DIANNA's kinds draw the same masks as before this kind existed.
        segment_keys = (rng.random((BLOCK_SIZE, self.n_segments, self.feature_shape[1]))[:length] < self.p_keep
                        if "segments" in self.kinds else np.ones((length, 0, 0), dtype=bool))
        return grids, offsets, time_rounding, channel_keys, channel_rounding, kinds, segment_keys

    def _stored(self, drawn: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        return (self._render_drawn(*drawn),) if self.keep_rendered else drawn

    def _render(self, *drawn: np.ndarray) -> np.ndarray:
        return drawn[0] if self.keep_rendered else self._render_drawn(*drawn)

    def _render_drawn(self, grids: np.ndarray, offsets: np.ndarray, time_rounding: np.ndarray, channel_keys: np.ndarray,
                channel_rounding: np.ndarray, kinds: np.ndarray, segment_keys: np.ndarray) -> np.ndarray:
        length, channels = self.feature_shape
        names = np.array(self.kinds)[kinds] if len(kinds) else np.array([], dtype=str)
        keep = np.where(names == "combined", np.sqrt(self.p_keep), self.p_keep)
        time_keep = np.ones((len(grids), length), dtype=bool)
        channel_keep = np.ones((len(grids), channels), dtype=bool)
        rows = np.flatnonzero(np.isin(names, ("time", "combined")))
        if len(rows):
            # DIANNA: np.linspace(offset, feature_res - 2 + offset, T) into the grid, linear interpolation; in
            # float32, as DIANNA's masks (the ranks of the curve's values are what count).
            keys = offsets[rows, None].astype(np.float32) + np.linspace(0, self.feature_res - 2, length,
                                                                          dtype=np.float32)
            low = np.minimum(keys.astype(np.int32), self.feature_res - 2)  # keys >= 0: truncation is the floor
            fraction = keys - low
            low += (np.arange(len(rows), dtype=np.int32) * self.feature_res)[:, None]  # into the flat grids
            flat = grids[rows].astype(np.float32).ravel()
            curve = np.take(flat, low + 1)
            below = np.take(flat, low)
            curve -= below
            curve *= fraction
            curve += below
            counts = _stochastic_count(length * (1 - keep[rows]), time_rounding[rows], length)
            time_keep[rows] = _lowest(curve, counts)
        rows = np.flatnonzero(np.isin(names, ("channel", "combined")))
        if len(rows):
            counts = _stochastic_count(channels * (1 - keep[rows]), channel_rounding[rows], channels)
            channel_keep[rows] = _lowest(channel_keys[rows], counts)
        masks = time_keep[:, :, None] & channel_keep[:, None, :]
        rows = np.flatnonzero(names == "segments")
        if len(rows):
            masks[rows] = segment_keys[rows][:, segment_of_step(length, self.n_segments), :]
        return masks
