"""RISE image masks, generated lazily and reproducibly.

The masks are exactly those of DIANNA's
:func:`dianna.utils.maskers.generate_interpolated_float_masks_for_image`: a random boolean grid of
``feature_res × feature_res`` cells (each kept with probability ``p_keep``), upsampled bilinearly to
``(feature_res + 1) × cell_size`` pixels per axis (``cell_size = ceil(image_size / feature_res)``) and cropped
at a random shift of ``0 ≤ shift < cell_size`` pixels per axis.

Unlike DIANNA's function, :class:`RiseMasks` draws from :class:`numpy.random.Generator` objects (never the
global RNG), in blocks that are drawn only when used and can be drawn independently in any process, keeps only
the grids and shifts (``feature_res²`` booleans a mask), and upsamples on demand, batch by
batch. The default ``"vectorized"`` generator computes the bilinear upsampling as two small matrix products,
which equals DIANNA's :func:`skimage.transform.resize` call (``order=1``, ``mode="reflect"``) to float32
precision; ``generator="dianna"`` calls DIANNA's own upsampling routine mask by mask instead.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from dianna_distance.checks import check_memory

GENERATORS = ("vectorized", "dianna")
#: The values of ``mask_pairs`` (:func:`check_mask_pairs`): independent masks, or pairs of masks.
MASK_PAIRS = (None, "complement", "flip")
#: The spawn key of the stream that orders the cells ``mask_pairs="flip"`` flips.
PAIRS_KEY = 2**31 - 2


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


#: Masks drawn together from one block's generator.
BLOCK_SIZE = 256


class MaskArray(Protocol):
    """Masks indexable like an array ``(n_masks, *feature_shape)``: a :class:`numpy.ndarray` or :class:`LazyMasks`."""

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_masks, *feature_shape)``."""
        ...

    def __len__(self) -> int:
        """``n_masks``."""
        ...

    def __getitem__(self, index: Any, /) -> np.ndarray:
        """One mask, or the masks at a slice or integer (or boolean) array of indices."""
        ...


def check_mask_pairs(mask_pairs: object, allow_auto: bool = False) -> str | None:
    """``mask_pairs`` checked: None, ``"complement"`` or ``"flip"`` (:class:`LazyMasks` says what each draws).

    Args:
        mask_pairs: The value to check.
        allow_auto: Also accept ``"auto"`` (an explainer's: the modality's own choice).

    Raises:
        ValueError: Any other value, naming the parameter and the values it takes.
    """
    allowed = (*MASK_PAIRS, "auto") if allow_auto else MASK_PAIRS
    if mask_pairs is not None and (not isinstance(mask_pairs, str) or mask_pairs not in allowed):
        auto = "'auto', " if allow_auto else ""
        raise ValueError(f"mask_pairs must be {auto}None (independent masks), 'complement' or 'flip', got "
                         f"{mask_pairs!r}")
    return mask_pairs


def all_equal(masks: MaskArray, chunk: int = 256) -> bool:
    """Whether every mask equals the first (checked a chunk at a time)."""
    first = np.asarray(masks[0])
    for start in range(0, len(masks), chunk):
        if not np.all(np.asarray(masks[start : start + chunk]) == first):
            return False
    return True


def block_generator(seed: np.random.SeedSequence, block: int) -> np.random.Generator:
    """The generator of block ``block`` (masks ``block * BLOCK_SIZE`` onwards) for a root seed."""
    return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, block)))


def skip_draws(rng: np.random.Generator, n_draws: int) -> None:
    """Advance a block's generator past ``n_draws`` 64-bit draws (``rng.random`` values) without drawing them."""
    bit_generator = rng.bit_generator
    if not isinstance(bit_generator, np.random.PCG64):  # block_generator's, NumPy's default
        raise TypeError(f"a block generator must be PCG64 to skip draws, got {type(bit_generator).__name__}")
    bit_generator.advance(n_draws)


def root_seed(random_state: int | np.random.Generator | np.random.SeedSequence | None) -> np.random.SeedSequence:
    """The root seed of a mask set: from an int, a generator (which advances) or fresh entropy for None."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63, size=4).tolist())
    return np.random.SeedSequence(random_state)


class LazyMasks:
    """A read-only array of masks ``(n_masks, *feature_shape)``, drawn lazily in blocks and rendered on demand.

    Supports ``len(masks)``, ``masks.shape``, ``masks[i]`` (one mask), ``masks[start:stop]``, ``masks[indices]``
    (integer arrays of any shape, or booleans) and ``np.asarray(masks)`` (all of them: mind the memory). The
    random draws are made in blocks of :data:`BLOCK_SIZE` masks, each block from its own generator derived from
    the root seed and the block's index: only the blocks that are used are drawn (``n_masks`` is a ceiling, not an
    allocation), and any process can draw masks ``start:stop`` on its own and get the same masks as a run that
    drew them all. A subclass says what a block draws (its ``_draw_block`` method) and how drawn values become
    masks (its ``_render`` method).

    **Pairs** (``pairing``, the explainers' ``mask_pairs``): masks ``2k`` and ``2k + 1`` are a pair. Mask ``2k``
    is drawn as without pairs; mask ``2k + 1`` shares all its draws (a table's background row, an image mask's
    shift) except its random cells (the keys a subclass's ``_keys_index`` names: a table's or a text's features, a
    series' segments, an image's grid cells), which are

    - ``"complement"``: the complement of mask ``2k``'s (a fold-over design: every cell masked in one mask of the
      pair is kept in the other; an image mask becomes ``1 - mask``);
    - ``"flip"``: mask ``2k``'s with **one cell flipped** (kept becomes masked, masked becomes kept), the cells
      taken in turn in a random order that is drawn anew after every round of all the cells (from the root seed,
      so any process draws the same), so that each cell is flipped equally often.

    The regression estimator takes the pairs' differences (:func:`~dianna_distance.regression.paired_differences`):
    with ``"flip"`` the distance change within a pair is the flipped cell's alone, so a cell the model ignores
    scores exactly 0. Blocks hold an even number of masks, so a pair is never split between blocks; an odd
    ``n_masks`` leaves the last mask without its partner (the regression leaves it out, with a warning).

    Attributes:
        seed: The :class:`numpy.random.SeedSequence` the blocks are drawn from.
        n_masks: Number of masks.
        pairing: None (independent masks), ``"complement"`` or ``"flip"``.
    """

    feature_shape: tuple[int, ...]
    dtype: np.dtype  # of the rendered masks
    #: The position of the random cells (booleans ``(length, *cells)``) among a block's drawn arrays; None: none.
    _keys_index: int | None = 0

    def __init__(self, n_masks: int, random_state: int | np.random.Generator | np.random.SeedSequence | None,
                 pairing: str | None = None) -> None:
        self.n_masks = int(n_masks)
        self.seed = root_seed(random_state)
        self.pairing = check_mask_pairs(pairing)
        self._blocks: dict[int, tuple[np.ndarray, ...]] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_masks, *feature_shape)``."""
        return (self.n_masks, *self.feature_shape)

    def __len__(self) -> int:
        return self.n_masks

    def __getitem__(self, index: int | slice | np.ndarray | Sequence[int]) -> np.ndarray:
        if isinstance(index, slice):
            return self._render(*self._draw(np.arange(self.n_masks)[index]))
        indices = np.asarray(index)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"masks are indexed by ints, slices or integer arrays, got {index!r}")
        if np.any((indices >= self.n_masks) | (indices < -self.n_masks)):
            raise IndexError(f"mask index out of range for {self.n_masks} masks")
        indices = indices % max(self.n_masks, 1)
        masks = self._render(*self._draw(indices.ravel()))
        return masks[0] if indices.ndim == 0 else masks.reshape(*indices.shape, *self.feature_shape)

    def head(self, n_masks: int) -> LazyMasks:
        """The first ``n_masks`` masks, as a new mask set sharing this one's blocks."""
        first = copy.copy(self)
        first.n_masks = min(int(n_masks), self.n_masks)
        return first

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        masks = self[:]
        return masks if dtype is None else masks.astype(dtype)

    def block_length(self, block: int) -> int:
        """Number of masks block ``block`` draws: :data:`BLOCK_SIZE`, or fewer for the last block of the set."""
        return int(min(BLOCK_SIZE, max(self.n_masks - block * BLOCK_SIZE, 0)))

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        """The random values of the first ``length`` masks of a block: arrays with a leading axis of that length.

        A block of fewer than :data:`BLOCK_SIZE` masks draws the same values for them as a full block does.
        """
        raise NotImplementedError

    def _render(self, *drawn: np.ndarray) -> np.ndarray:
        """Masks ``(k, *feature_shape)`` from the drawn values of ``k`` masks."""
        raise NotImplementedError

    def _stored(self, drawn: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """What a block keeps of its (paired) drawn values; by default all of them."""
        return drawn

    def _pair_block(self, drawn: tuple[np.ndarray, ...], block: int) -> tuple[np.ndarray, ...]:
        """A block's drawn values made into pairs (the class docstring); unchanged without ``pairing``."""
        if self.pairing is None:
            return drawn
        drawn = tuple(np.array(values, copy=True) for values in drawn)
        partners = len(drawn[0]) // 2
        for values in drawn:
            values[1 : 2 * partners : 2] = values[0 : 2 * partners : 2]
        if self._keys_index is None or partners == 0:
            return drawn
        keys = drawn[self._keys_index].reshape(len(drawn[0]), -1)  # a view: the copy above is contiguous
        if self.pairing == "complement":
            keys[1 : 2 * partners : 2] = ~keys[0 : 2 * partners : 2]
        else:
            pair = block * (BLOCK_SIZE // 2) + np.arange(partners)
            keys[2 * np.arange(partners) + 1, self._flipped_cells(pair, keys.shape[1])] ^= True
        return drawn

    def _flipped_cells(self, pairs: np.ndarray, n_cells: int) -> np.ndarray:
        """The cell each pair of ``pairs`` (global pair indices) flips: every cell once per round, in random order."""
        rounds, positions = np.divmod(pairs, n_cells)
        cells = np.empty(len(pairs), dtype=np.int64)
        for round_ in np.unique(rounds).tolist():
            order = np.random.default_rng(np.random.SeedSequence(
                self.seed.entropy, spawn_key=(*self.seed.spawn_key, PAIRS_KEY, round_))).permutation(n_cells)
            cells[rounds == round_] = order[positions[rounds == round_]]
        return cells

    def _draw(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The drawn values of the masks at ``indices`` (1-D), gathered from their blocks."""
        blocks, offsets = np.divmod(indices, BLOCK_SIZE)
        used = np.unique(blocks) if len(indices) else np.zeros(1, dtype=int)  # block 0 gives empty arrays' dtypes
        for block in used.tolist():
            length = max(self.block_length(block), 1)
            if block not in self._blocks or len(self._blocks[block][0]) < length:
                drawn = self._draw_block(block_generator(self.seed, block), length)
                self._blocks[block] = self._stored(self._pair_block(drawn, block))
        drawn = tuple(np.empty((len(indices), *values.shape[1:]), values.dtype) for values in self._blocks[used[0]])
        for block in np.unique(blocks).tolist():
            where = blocks == block
            for values, block_values in zip(drawn, self._blocks[block]):
                values[where] = block_values[offsets[where]]
        return drawn


class WordMasks(LazyMasks):
    """Masks over the F features of a text (its words): each word kept (1) with probability ``p_keep``, else 0.

    Args:
        n_features: Number of words F.
        n_masks: Number of masks.
        p_keep: Probability that a word is kept.
        random_state: Seed or generator (a generator is advanced once, to seed the set).
        pairing: None, ``"complement"`` or ``"flip"`` (pairs of masks, :class:`LazyMasks`; the cells are the words).

    Values are booleans (True: kept), shape ``(n_masks, n_features)``.
    """

    dtype = np.dtype(bool)

    def __init__(self, n_features: int, n_masks: int, p_keep: float = 0.5,
                 random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
                 pairing: str | None = None) -> None:
        super().__init__(n_masks, random_state, pairing)
        self.feature_shape = (int(n_features),)
        self.p_keep = float(p_keep)

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        return (rng.random((length, *self.feature_shape)) < self.p_keep,)

    def _render(self, *drawn: np.ndarray) -> np.ndarray:
        return drawn[0]  # the keep values


class TabularMasks(WordMasks):
    """:class:`WordMasks` over a row's F features, with one background row index per mask drawn in the same block.

    The masks are those of :class:`WordMasks` with the same seed (each block first draws its keep values, as
    :class:`WordMasks` does, then skips the keep values of the rest of a full block, then draws
    :data:`BLOCK_SIZE` row indices): mask ``i``'s row depends only on the root seed and ``i``, and one generator per
    block serves both.

    Args:
        n_features: Number of features F.
        n_masks: Number of masks.
        p_keep: Probability that a feature is kept.
        n_rows: Number of background rows to draw from.
        random_state: Seed or generator (a generator is advanced once, to seed the set).
        pairing: None, ``"complement"`` or ``"flip"`` (:class:`LazyMasks`; the two masks of a pair share a row).
    """

    def __init__(self, n_features: int, n_masks: int, p_keep: float, n_rows: int,
                 random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
                 pairing: str | None = None) -> None:
        super().__init__(n_features, n_masks, p_keep, random_state, pairing)
        self.n_rows = int(n_rows)

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        keep = rng.random((length, *self.feature_shape)) < self.p_keep
        skip_draws(rng, (BLOCK_SIZE - length) * self.feature_shape[0])  # a full block's keep values
        return keep, rng.integers(0, self.n_rows, BLOCK_SIZE)[:length]

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The background row index of the masks at ``indices`` (1-D), ``(len(indices),)``."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or np.any((indices < 0) | (indices >= self.n_masks)):
            raise IndexError(f"mask indices must be a 1-D array in [0, {self.n_masks})")
        return self._draw(indices)[1]


#: The spawn key that separates a mask set's background-row draws from its masks.
ROWS_KEY = 2**31 - 1


class BackgroundRows(LazyMasks):
    """One background row index per mask ``(n_masks,)`` in ``[0, n_rows)``, drawn lazily in blocks (:class:`LazyMasks`).

    The draws of mask ``i`` depend only on the root seed and ``i``, so a process that embeds masks ``start:stop``
    draws the rows a whole run draws. They come from a stream of their own (the root seed's spawn key extended by
    :data:`ROWS_KEY`), so the masks drawn from the same seed (for example :class:`WordMasks`) do not change.

    Args:
        n_rows: Number of background rows to draw from.
        n_masks: Number of masks (a ceiling: blocks are drawn only when used).
        random_state: The root seed (or an int / generator, as :class:`LazyMasks` takes it).
        pairing: None, or a pairing: masks ``2k`` and ``2k + 1`` share a row.
    """

    dtype = np.dtype(np.int64)
    feature_shape = ()
    _keys_index = None

    def __init__(self, n_rows: int, n_masks: int,
                 random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
                 pairing: str | None = None) -> None:
        super().__init__(n_masks, random_state, pairing)
        self.seed = np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, ROWS_KEY))
        self.n_rows = int(n_rows)

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        return (rng.integers(0, self.n_rows, BLOCK_SIZE)[:length],)

    def _render(self, *drawn: np.ndarray) -> np.ndarray:
        return drawn[0]  # the row indices


class RiseMasks(LazyMasks):
    """DIANNA's RISE image masks ``(n_masks, height, width)``, drawn lazily (:class:`LazyMasks`), upsampled on demand.

    Values lie in [0, 1], float32.

    Args:
        image_shape: ``(height, width)`` of the image to mask.
        n_masks: Number of masks.
        feature_res: Number of grid cells per axis.
        p_keep: Probability that a grid cell is kept (1) rather than masked (0).
        random_state: Seed or generator for the grids and shifts (a generator is advanced once, to seed the set).
        generator: ``"vectorized"`` (default) or ``"dianna"`` (DIANNA's own upsampling, mask by mask).
        pairing: None, ``"complement"`` or ``"flip"`` (:class:`LazyMasks`; the cells are the grid's, the two masks
            of a pair share a shift, so a complement pair's masks sum to 1).

    Attributes:
        seed: The :class:`numpy.random.SeedSequence` the blocks are drawn from.
        cell_size: ``(2,)`` grid cell size in pixels, ``ceil(image_size / feature_res)``.
    """

    dtype = np.dtype(np.float32)

    def __init__(
        self,
        image_shape: Sequence[int],
        n_masks: int,
        feature_res: int = 8,
        p_keep: float = 0.5,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
        generator: str = "vectorized",
        pairing: str | None = None,
    ) -> None:
        if generator not in GENERATORS:
            raise ValueError(f"generator must be one of {GENERATORS}, got {generator!r}")
        super().__init__(n_masks, random_state, pairing)
        self.image_shape = self.feature_shape = (int(image_shape[0]), int(image_shape[1]))
        self.feature_res = int(feature_res)
        if self.feature_res > max(self.image_shape):
            raise ValueError(f"feature_res ({self.feature_res}) must not exceed the image's size "
                             f"{self.image_shape[0]} x {self.image_shape[1]}: a grid cell would be smaller than a "
                             "pixel")
        # One block's draw: a float64 and a bool per grid cell of each of its masks, and the upsampling matrices.
        length = self.block_length(0)
        check_memory(length * self.feature_res**2 * 9 + 8 * (self.feature_res + 1) * int(max(self.image_shape)),
                     "feature_res", f"the random grids of {length} masks of {self.feature_res} x {self.feature_res} "
                                    "cells")
        self.p_keep = float(p_keep)
        self.generator = generator
        self.cell_size = np.ceil(np.array(self.image_shape) / feature_res).astype(int)
        up_size = (self.feature_res + 1) * self.cell_size
        self._rows = interpolation_matrix(self.feature_res, up_size[0]).astype(np.float32)
        self._cols = interpolation_matrix(self.feature_res, up_size[1]).astype(np.float32)

    @property
    def grids(self) -> np.ndarray:
        """Boolean array ``(n_masks, feature_res, feature_res)``; True where a cell is kept (draws every block)."""
        return self._draw(np.arange(self.n_masks))[0]

    @property
    def shifts(self) -> np.ndarray:
        """Integer array ``(n_masks, 2)``: the crop offset ``(y, x)`` of each mask (draws every block)."""
        return self._draw(np.arange(self.n_masks))[1]

    def _draw_block(self, rng: np.random.Generator, length: int) -> tuple[np.ndarray, ...]:
        cells = self.feature_res**2
        grids = rng.random((length, self.feature_res, self.feature_res)) < self.p_keep
        skip_draws(rng, (BLOCK_SIZE - length) * cells)  # skip the grids of the rest of a full block
        shifts = np.stack([rng.integers(0, size, BLOCK_SIZE)[:length] for size in self.cell_size], axis=1)
        return grids, shifts

    def _render(self, *drawn: np.ndarray) -> np.ndarray:
        grids, shifts = drawn
        return self._upsample(grids, shifts)

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
