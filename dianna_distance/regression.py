"""The regression estimator (``weighting="regression"``): every masked input enters the map, in distance units.

The paper's selection averages the closest and the farthest tenth of the masks, so 80% of the model calls do not
enter the map, and the map is a correlation of masks and ranks (saturating at ±1), not an effect. The regression
estimator fits, by least squares over **all** masked inputs,

    distance_i = intercept + sum_c beta_c * x_ic + error_i,

where ``x_ic`` is the share of cell ``c`` that mask ``i`` keeps (the mean of the mask over the cell's features).
A **cell** is a group of features scored together: each feature of a table or each word of a text is its own cell;
a time series is cut into segments of adjacent time steps per channel; an image into a grid of pixel blocks (see
the modalities' ``_regression_cells``). The score of every feature of cell ``c`` is ``-beta_c``: **how much the
distance to the reference falls when the cell is kept rather than masked**, with the other cells held as they
are (a partial effect: cells masked together, such as the time steps of one smooth time mask, are separated).
Positive: keeping the cell brings the input closer to the reference, as in the paper's map.

Its standard error is the classical one of least squares, ``sqrt(s^2 (X'X)^-1_cc)`` with the residual variance
``s^2`` on ``n - r - 1`` degrees of freedom (``r``: the rank of the centred design), which
:func:`~dianna_distance.uncertainty.significant_features` takes as it takes the paper's. A cell whose share the
masks do not separate from the others' (a column the other columns and the intercept reproduce, for example a
cell no mask ever masks, or two channels only ever masked together) gets the minimum-norm share of the effect, a
standard error of ``inf`` (never significant), and a warning.

**Paired masks** (the explainers' ``mask_pairs``; :class:`~dianna_distance.masks.LazyMasks`): masks ``2k`` and
``2k + 1`` are a pair, and the fit is the same least squares on the pairs' **differences** (distance of mask ``2k``
minus that of mask ``2k + 1`` on the difference of their cells' shares, without an intercept: a pair shares
everything but the cells that differ), with ``n / 2 - r`` degrees of freedom: a pair is one independent
observation. With ``mask_pairs="flip"`` (one cell flipped per pair) a cell's score is the mean distance change of
flipping it alone, in the random contexts of the other cells, and a cell the model ignores scores exactly 0;
with ``"complement"`` the differences give the fold-over estimate (each cell's effect free of the even-order
interactions of the others) with its proper standard error.
"""

from __future__ import annotations

import numpy as np

from dianna_distance.checks import warn
from dianna_distance.masks import MaskArray

#: A singular value of the centred design below this times the largest counts as 0 (a direction the masks do
#: not vary).
RANK_TOLERANCE = 1e-8
#: Fewer masks than this many times (cells + 1) give a warning that the regression is noisy.
NOISY_RATIO = 2


def identity_cells(feature_shape: tuple[int, ...]) -> np.ndarray:
    """Every feature its own cell: ``arange(F)`` in ``feature_shape``."""
    return np.arange(int(np.prod(feature_shape))).reshape(feature_shape)


def grid_cells(shape: tuple[int, int], rows: int, columns: int) -> np.ndarray:
    """Cells of a ``rows`` x ``columns`` grid of blocks over ``shape`` ``(H, W)`` (blocks differ by at most a row).

    Returns:
        Int array ``(H, W)``: the cell of each pixel, ``row * columns + column``.
    """
    height, width = shape
    row = np.minimum(np.arange(height) * rows // height, rows - 1)
    column = np.minimum(np.arange(width) * columns // width, columns - 1)
    return row[:, None] * columns + column[None, :]


def pooled_design(masks: MaskArray, cells: np.ndarray, chunk_values: int = 2**20) -> np.ndarray:
    """The design ``(n_masks, n_cells)``: the mean of each mask over each cell's features.

    Args:
        masks: ``(n_masks, *feature_shape)``, indexable like an array (lazy masks are read a chunk at a time).
        cells: Int ``feature_shape``: the cell of each feature, ``0 .. n_cells - 1``.
        chunk_values: About how many mask values are converted to float64 at a time.
    """
    labels = np.asarray(cells).ravel()
    n_cells = int(labels.max()) + 1 if labels.size else 0
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    sizes = np.diff(np.r_[starts, len(labels)])
    present = labels[order][starts]
    design = np.zeros((len(masks), n_cells))
    step = max(1, chunk_values // max(len(labels), 1))
    for start in range(0, len(masks), step):
        values = np.asarray(masks[start : start + step], dtype=np.float64).reshape(-1, len(labels))
        design[start : start + len(values), present] = np.add.reduceat(values[:, order], starts, axis=1) / sizes
    return design


def design_for(masks: MaskArray, cells: np.ndarray, cached: tuple | None = None) -> tuple:
    """``(masks, cells, design)``: the pooled design of ``masks`` and ``cells``, reused from ``cached`` if theirs."""
    if cached is not None and cached[0] is masks and np.array_equal(cached[1], cells):
        return cached
    return masks, cells, pooled_design(masks, cells)


def paired_differences(design: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The within-pair differences of paired masks: ``(design[2k] - design[2k+1], distances[:, 2k] - ...[2k+1])``.

    Args:
        design: ``(n, p)`` (an odd last row, without its partner, is left out).
        distances: ``(K, n)``.

    Returns:
        ``(n // 2, p)`` and ``(K, n // 2)``.
    """
    pairs = len(design) // 2
    distances = np.atleast_2d(distances)
    return (design[0 : 2 * pairs : 2] - design[1 : 2 * pairs : 2],
            distances[:, 0 : 2 * pairs : 2] - distances[:, 1 : 2 * pairs : 2])


class RegressionFit:
    """Least squares of distances on a design, shared by every reference (the design is factorised once).

    Args:
        design: ``(n, p)``: the share of each cell each mask keeps (or, without ``intercept``, the differences of
            paired masks' shares, :func:`paired_differences`).
        intercept: Fit an intercept (the design and the distances centred); False for paired differences.

    Attributes:
        rank: Rank of the (centred) design.
        identifiable: Boolean ``(p,)``: cells whose coefficient the design determines.
        degrees_of_freedom: ``n - rank - 1`` (``n - rank`` without the intercept).
    """

    def __init__(self, design: np.ndarray, intercept: bool = True) -> None:
        n, p = design.shape
        self.intercept = intercept
        self.mean = design.mean(axis=0) if intercept else np.zeros(p)
        centred = design - self.mean
        left, singular, right = np.linalg.svd(centred, full_matrices=False)
        kept = singular > RANK_TOLERANCE * max(float(singular[0]) if len(singular) else 0.0, 1e-300)
        self.left, self.singular, self.right = left[:, kept], singular[kept], right[kept]
        self.rank = int(kept.sum())
        self.identifiable = np.sum(self.right**2, axis=0) > 1 - 1e-6 if p else np.zeros(0, dtype=bool)
        self.degrees_of_freedom = n - self.rank - int(intercept)
        # Diagonal of (X'X)^+ : the variance of each coefficient per unit of residual variance.
        self.variance_factor = np.sum((self.right / self.singular[:, None]) ** 2, axis=0)

    def fit(self, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients and their standard errors for each row of ``distances`` ``(K, n)``: two ``(K, p)`` arrays."""
        centred = distances - distances.mean(axis=1, keepdims=True) if self.intercept else distances
        projected = centred @ self.left  # (K, r)
        coefficients = (projected / self.singular) @ self.right
        residual = np.sum(centred**2, axis=1) - np.sum(projected**2, axis=1)
        dof = max(self.degrees_of_freedom, 1)
        scale = np.maximum(residual, 0.0) / dof
        standard_error = np.sqrt(scale[:, None] * self.variance_factor[None, :])
        standard_error[:, ~self.identifiable] = np.inf
        return coefficients, standard_error


def centred_weights(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``weights_`` of a regression map: each mask's distance below the mean (closer: positive), summing to 0.

    Every mask enters a regression map, which is not ``weights @ masks``; these weights say which masks pulled the
    map which way. Returns ``(weights, positive, negative)``: the indices of the masks closer and farther than the
    mean, closest first.
    """
    weights = distances.mean() - distances
    order = np.argsort(distances, kind="stable")
    return weights, order[weights[order] > 0], order[weights[order] < 0]


def check_regression_size(n_masks: int, n_cells: int, stacklevel: int = 4, paired: bool = False) -> None:
    """Refuse a regression with no residual degrees of freedom; warn when it has few.

    Args:
        n_masks: Number of masks.
        n_cells: Number of cells (coefficients).
        stacklevel: Of the warning.
        paired: Paired masks: the fit has ``n_masks // 2`` differences and no intercept.

    Raises:
        ValueError: ``n_masks <= n_cells + 1`` (paired: ``n_masks // 2 <= n_cells``).
    """
    if paired:
        if n_masks // 2 <= n_cells:
            raise ValueError(f"weighting='regression' with paired masks fits one coefficient per cell ({n_cells} "
                             f"cells) on the differences of the pairs: it needs more than {n_cells} pairs "
                             f"({2 * n_cells + 2} masks), got {n_masks} masks; use n_masks of at least "
                             f"{2 * NOISY_RATIO * n_cells}")
        if n_masks // 2 < NOISY_RATIO * n_cells:
            warn(f"weighting='regression' with {n_masks // 2} mask pairs for {n_cells} cells leaves "
                 f"{n_masks // 2 - n_cells} degrees of freedom: the scores are noisy; use n_masks of at least "
                 f"{2 * NOISY_RATIO * n_cells}", stacklevel=stacklevel)
        return
    if n_masks <= n_cells + 1:
        raise ValueError(f"weighting='regression' fits one coefficient per cell ({n_cells} cells) and an intercept: "
                         f"it needs more than {n_cells + 1} masks, got {n_masks}; use n_masks of at least "
                         f"{NOISY_RATIO * (n_cells + 1)} or a rank weighting ('ranges', 'linear', 'normal')")
    if n_masks < NOISY_RATIO * (n_cells + 1):
        warn(f"weighting='regression' with {n_masks} masks for {n_cells} cells leaves {n_masks - n_cells - 1} "
             f"degrees of freedom: the scores are noisy; use n_masks of at least {NOISY_RATIO * (n_cells + 1)}",
             stacklevel=stacklevel)


def regression_map(masks: MaskArray, distances: np.ndarray, cells: np.ndarray,
                   design: np.ndarray | None = None, paired: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, standard errors and degrees of freedom of the regression estimator (module docstring).

    Args:
        masks: The run's masks ``(n_masks, *feature_shape)``.
        distances: ``(K, n_masks)`` distances of the masked inputs to K references.
        cells: Int ``feature_shape``: the cell of each feature.
        design: The pooled design of ``masks`` and ``cells`` if already computed (:func:`pooled_design`).
        paired: Masks ``2k`` and ``2k + 1`` are pairs: fit their differences (module docstring).

    Returns:
        ``(maps, standard_error, degrees_of_freedom)``, each ``(K, *feature_shape)``.
    """
    cells = np.asarray(cells)
    design = pooled_design(masks, cells) if design is None else design
    check_regression_size(len(design), design.shape[1], stacklevel=5, paired=paired)
    distances = np.atleast_2d(np.asarray(distances, dtype=np.float64))
    if paired:
        if len(design) % 2:
            warn(f"weighting='regression' with paired masks (mask_pairs): the last of the {len(design)} masks has "
                 "no partner and is left out; use an even n_masks", stacklevel=5)
        design, distances = paired_differences(design, distances)
    fit = RegressionFit(design, intercept=not paired)
    lost = np.flatnonzero(~fit.identifiable)
    if len(lost):
        shown = ", ".join(str(c) for c in lost[:8]) + (", ..." if len(lost) > 8 else "")
        warn(f"weighting='regression': the masks do not separate {len(lost)} of {design.shape[1]} cells (cell(s) "
             f"{shown}) from the others (never masked, or masked only together with others): those get a shared "
             "score and an infinite standard error (never significant)", stacklevel=5)
    coefficients, errors = fit.fit(distances)
    labels = cells.ravel()
    shape = (len(coefficients), *cells.shape)
    maps = (-coefficients[:, labels]).reshape(shape)
    standard_error = errors[:, labels].reshape(shape)
    degrees_of_freedom = np.full(shape, float(max(fit.degrees_of_freedom, 1)))
    return maps, standard_error, degrees_of_freedom
