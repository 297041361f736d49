"""RISE image masks, generated lazily and reproducibly.

The masks are exactly those of DIANNA's
:func:`dianna.utils.maskers.generate_interpolated_float_masks_for_image`: a random boolean grid of
``feature_res × feature_res`` cells (each kept with probability ``p_keep``), upsampled bilinearly to
``(feature_res + 1) × cell_size`` pixels per axis (``cell_size = ceil(image_size / feature_res)``) and cropped
at a random shift of ``0 ≤ shift < cell_size`` pixels per axis.

Unlike DIANNA's function, :class:`RiseMasks` draws from a :class:`numpy.random.Generator` (never the global
RNG), keeps only the grids and shifts (``n_masks × feature_res²`` booleans), and upsamples on demand, batch by
batch. The default ``"vectorized"`` generator computes the bilinear upsampling as two small matrix products,
which equals DIANNA's :func:`skimage.transform.resize` call (``order=1``, ``mode="reflect"``) to float32
precision; ``generator="dianna"`` calls DIANNA's own upsampling routine mask by mask instead.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

GENERATORS = ("vectorized", "dianna")


def interpolation_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Bilinear resampling weights of :func:`skimage.transform.resize` (``order=1``, ``mode="reflect"``).

    Args:
        n_in: Number of input samples along the axis.
        n_out: Number of output samples along the axis.

    Returns:
        Array of shape ``(n_out, n_in)``: ``matrix @ signal`` resamples a signal of length ``n_in``.
    """
    # Output pixel centres mapped onto input coordinates, as skimage does (pixel centres aligned).
    coords = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    # skimage's "reflect" mode mirrors about the outermost sample centres.
    last = n_in - 1
    coords = np.abs(coords)
    coords = np.where(coords > last, 2 * last - coords, coords)
    low = np.clip(np.floor(coords).astype(int), 0, max(last - 1, 0))
    high = np.minimum(low + 1, last)
    frac = coords - low
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.arange(n_out), low), 1 - frac)
    np.add.at(matrix, (np.arange(n_out), high), frac)
    return matrix


class RiseMasks:
    """A set of RISE masks stored as grids and shifts and upsampled on demand.

    Behaves like a read-only array of shape ``(n_masks, height, width)``: ``len(masks)``, ``masks[i]`` (one
    mask, ``(height, width)``), ``masks[indices]`` or ``masks[start:stop]`` (``(k, height, width)``), and
    ``np.asarray(masks)`` (all of them; mind the memory for many large masks). Values lie in [0, 1], float32.

    Args:
        image_shape: ``(height, width)`` of the image to mask.
        n_masks: Number of masks.
        feature_res: Number of grid cells per axis.
        p_keep: Probability that a grid cell is kept (1) rather than masked (0).
        random_state: Seed or generator for the grids and shifts.
        generator: ``"vectorized"`` (default) or ``"dianna"`` (DIANNA's own upsampling, mask by mask).

    Attributes:
        grids: Boolean array ``(n_masks, feature_res, feature_res)``; True where a cell is kept.
        shifts: Integer array ``(n_masks, 2)``: the crop offset ``(y, x)`` of each mask in the upsampled grid.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        n_masks: int,
        feature_res: int = 8,
        p_keep: float = 0.5,
        random_state: int | np.random.Generator | None = None,
        generator: str = "vectorized",
    ) -> None:
        if generator not in GENERATORS:
            raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.feature_res = int(feature_res)
        self.p_keep = float(p_keep)
        self.generator = generator
        rng = np.random.default_rng(random_state)
        self.grids = rng.random((n_masks, feature_res, feature_res)) < p_keep
        self.cell_size = np.ceil(np.array(self.image_shape) / feature_res).astype(int)
        self.shifts = np.stack([rng.integers(0, size, n_masks) for size in self.cell_size], axis=1)
        up_size = (self.feature_res + 1) * self.cell_size
        self._rows = interpolation_matrix(self.feature_res, up_size[0]).astype(np.float32)
        self._cols = interpolation_matrix(self.feature_res, up_size[1]).astype(np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(n_masks, height, width)``."""
        return (len(self.grids), *self.image_shape)

    def __len__(self) -> int:
        return len(self.grids)

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> np.ndarray:
        if np.ndim(index) == 0 and not isinstance(index, slice):
            return self._upsample(self.grids[[index]], self.shifts[[index]])[0]
        return self._upsample(self.grids[index], self.shifts[index])

    def head(self, n_masks: int) -> RiseMasks:
        """The first ``n_masks`` masks, as a new :class:`RiseMasks` sharing this one's grids and shifts."""
        first = copy.copy(self)
        first.grids, first.shifts = self.grids[:n_masks], self.shifts[:n_masks]
        return first

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        masks = self[:]
        return masks if dtype is None else masks.astype(dtype)

    def _upsample(self, grids: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        height, width = self.image_shape
        if self.generator == "dianna":
            from dianna.utils.maskers import _upscale

            up_size = (self.feature_res + 1) * self.cell_size
            masks = np.empty((len(grids), height, width), dtype=np.float32)
            for i, (grid, (y, x)) in enumerate(zip(grids, shifts)):
                masks[i] = _upscale(grid.astype(np.float32), up_size)[y : y + height, x : x + width]
            return masks
        # Rows of the upsampling matrices that survive each mask's crop: (k, height, f) and (k, width, f).
        rows = self._rows[shifts[:, :1] + np.arange(height)]
        cols = self._cols[shifts[:, 1:] + np.arange(width)]
        return rows @ grids.astype(np.float32) @ cols.transpose(0, 2, 1)


def generate_masks(
    image_shape: Sequence[int],
    n_masks: int,
    feature_res: int = 8,
    p_keep: float = 0.5,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Generate DIANNA's RISE image masks in one array.

    Args:
        image_shape: ``(height, width)`` of the image to mask (further axes are ignored).
        n_masks: Number of masks.
        feature_res: Number of grid cells per axis.
        p_keep: Probability that a grid cell is kept.
        random_state: Seed or generator.

    Returns:
        Float32 array of shape ``(n_masks, height, width)`` with values in [0, 1].
    """
    return np.asarray(RiseMasks(image_shape, n_masks, feature_res, p_keep, random_state))
