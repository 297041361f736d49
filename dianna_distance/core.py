"""The Distance Explainer's algorithm, written once for every modality.

An input (an image, a text) is masked ``n_masks`` times; every masked input is embedded by the model and its
distance to each reference embedding computed; the masks are ranked by distance and weighted by rank (the
paper's selection ranges by default); the map is the weighted sum of the masks. :class:`MaskedDistanceExplainer`
does all of this. A modality subclass supplies only what is its own:

* ``_prepare_input(inputs)``: check the input and keep what masking it needs;
* ``_draw_masks(prepared, n_masks)``: the masks, indexable like an array ``(n_masks, *feature_shape)`` (pixels
  for an image, words for a text); the map has the shape ``feature_shape``;
* ``_masked_batch(prepared, masks)``: the model's input for a batch of masks ``(b, *feature_shape)`` (or
  ``_masked_batch_at(prepared, masks, first)`` when the input also depends on the masks' indices ``first:``);
* ``_feature_shape(prepared)``, ``_input_size(prepared)``, ``load_model(model)``, ``_validate_modality()``;
* optionally ``_unscored_features()`` (features of the last input that get no score, e.g. words past a text model's
  maximum length: NaN, never significant) and ``_auto_pairing()`` (what ``mask_pairs="auto"`` means for it).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import (
    RandomState,
    check_bool,
    check_embeddings,
    check_finite_array,
    check_fraction,
    check_int,
    check_memory,
    check_numeric_array,
    check_random_state,
    real_number,
    warn,
)
from dianna_distance.convergence import embed_until_converged, map_with_uncertainty, mask_mean
from dianna_distance.distances import DistanceLike, check_selection, compute_distances, select_masks
from dianna_distance.masks import LazyMasks, MaskArray, all_equal, check_mask_pairs
from dianna_distance.regression import centred_weights, design_for, identity_cells, regression_map
from dianna_distance.uncertainty import DEFAULT_FDR, check_fdr, significant_features, standard_error_floor

#: The automatic batch size holds about this many input values (16 MB of float32) per batch.
BATCH_VALUES = 2**22
#: The largest automatic batch size.
MAX_AUTO_BATCH = 256
SUM_VALUES = 2**20  # the weighted mask sum converts about this many mask values (8 MB) to float64 at a time
#: The selection ranges ``(min, max, negative min, negative max)``, fractions of the distance ranking.
Ranges = tuple[float, float, float, float]


def auto_batch_size(values_per_input: int, n_inputs: int) -> int:
    """Inputs per model call: about :data:`BATCH_VALUES` input values per batch, at most :data:`MAX_AUTO_BATCH`."""
    return max(1, min(n_inputs, MAX_AUTO_BATCH, BATCH_VALUES // max(values_per_input, 1)))


def check_reference(
    embedded_reference: object, distance: DistanceLike, embedding_length: int | None = None
) -> np.ndarray:
    """The reference(s) as a float64 ``(K, D)`` array, checked (finite, real, and the model's length ``D``)."""
    references = check_finite_array(embedded_reference, "embedded_reference")
    if references.ndim not in (1, 2) or references.shape[-1] == 0 or references.shape[0] == 0:
        raise ValueError(f"embedded_reference must have shape (D,) or (K, D), got {references.shape}")
    references = np.atleast_2d(references).astype(np.float64)
    if embedding_length is not None and references.shape[1] != embedding_length:
        raise ValueError(f"embedded_reference has length {references.shape[1]}, but the model's embeddings have "
                         f"length {embedding_length}")
    if isinstance(distance, str) and distance == "cosine" and np.any(np.all(references == 0, axis=1)):
        raise ValueError("embedded_reference is a zero vector; cosine distance to it is undefined")
    return references


#: The parameters every modality shares (documented on :class:`MaskedDistanceExplainer`): each modality's
#: ``__init__`` names them in its signature and stores them with ``self._store_shared_parameters(locals())``.
SHARED_PARAMETERS = ("n_masks", "p_keep", "mask_selection_range_min", "mask_selection_range_max",
                     "mask_selection_negative_range_min", "mask_selection_negative_range_max", "weighting",
                     "batch_size", "distance", "random_state", "masks", "progress", "tolerance", "max_masks",
                     "mask_pairs")


class MaskedDistanceExplainer:
    """The Distance Explainer for any modality: why is an input close to, or far from, a reference embedding?

    The parameters shared by every modality are documented here; a modality's class (for example
    :class:`~dianna_distance.DistanceExplainer` for images) stores them with its own in its ``__init__``.
    Parameters are checked when :meth:`attribute` runs.

    Args:
        n_masks: Number of masks (model evaluations); with ``tolerance``, masks added per round.
        p_keep: Probability that a feature (a grid cell, a word) is kept, in (0, 1]. ``p_keep=1`` keeps every
            feature: nothing is masked, the map is zero, and a warning says so (as it does for ``n_masks=1``).
        mask_selection_range_min, mask_selection_range_max: Fractions of the distance ranking (closest first)
            averaged with weight +1.
        mask_selection_negative_range_min, mask_selection_negative_range_max: Fractions averaged with weight -1;
            ``min == max`` switches a side off.
        weighting: ``"ranges"`` (the paper's selection, default), ``"linear"`` or ``"normal"`` rank weights
            (see :func:`~dianna_distance.distances.rank_weights`; these ignore the ranges).
        batch_size: Masked inputs per model call; default automatic.
        distance: ``"cosine"`` (``(1 - cos) / 2``), ``"euclidean"``, or a callable
            ``(embeddings (N, D), reference (D,)) -> (N,)``.
        random_state: Seed (int) or :class:`numpy.random.Generator` for the masks; the global RNG is never used.
        masks: Masks to use instead of drawn ones, ``(n_masks, *feature_shape)``, values in [0, 1].
        progress: Show a progress bar.
        tolerance: Choose the number of masks automatically: add ``n_masks`` masks at a time until the map's
            estimated per-feature spread (:func:`~dianna_distance.convergence.estimate_map_spread`) is at most
            ``tolerance``, or ``max_masks`` masks are used. None (default): use exactly ``n_masks`` masks.
        max_masks: Upper limit on the number of masks when ``tolerance`` is set (masks are drawn only as used).
            A tolerance not reached by then gives a warning with the spread reached, and ``converged_`` False.
        mask_pairs: ``"auto"`` (the modality's choice), None (independent masks), ``"complement"`` or ``"flip"``:
            masks in pairs, the second the first's complement or the first with one cell flipped
            (:class:`~dianna_distance.masks.LazyMasks`); the regression fits the pairs' differences
            (:mod:`~dianna_distance.regression`; an odd ``n_masks``'s last mask is left out, with a warning). Given
            ``masks`` are taken as consecutive pairs.

    Attributes:
        fdr: False-discovery rate of ``significant_`` (a class attribute, 0.05); set it on an explainer before
            :meth:`attribute`, or call :meth:`significance` with another rate after it.
        masks_: The masks of the last run, indexable like an array ``(n_masks, *feature_shape)``.
        embeddings_: Float64 embeddings of the masked inputs, ``(n_masks, D)``.
        distances_: Distance of each masked input to the reference, ``(n_masks,)``, or ``(K, n_masks)``.
        weights_: Weight of each mask in the map, ``(n_masks,)`` or ``(K, n_masks)``; masks with equal distances
            share their ranks' weights.
        positive_indices_: Indices of the masks with positive weight, closest first; ``(K, n)`` for K references.
        negative_indices_: Indices of the masks with negative weight, closest first.
        embedded_reference_: The reference(s) of the last map, ``(D,)`` or ``(K, D)``.
        n_masks_used_: Number of masks the last run used (differs from ``n_masks`` when ``tolerance`` is set).
        mask_pairs_: The pairing of the last run's masks (``mask_pairs`` with ``"auto"`` resolved): None, or
            ``"complement"`` or ``"flip"`` (pairs, which the regression fits as differences).
        converged_: With ``tolerance``: whether the spread fell to the tolerance before ``max_masks`` ran out
            (None without ``tolerance``). A tolerance that is not reached is also reported by a warning.
        map_: The last map returned (by :meth:`attribute`, :meth:`reselect`, ...), ``feature_shape`` or
            ``(K, *feature_shape)``.
        standard_error_: Per-feature standard error of ``map_``, its shape: how much each score would vary
            between runs with other mask seeds, estimated from this run alone
            (:func:`~dianna_distance.convergence.map_standard_error`; every weighting). ``inf`` for a map one of
            whose selections holds a single mask. Recomputed by :meth:`reselect`, without the model.
        degrees_of_freedom_: Welch–Satterthwaite degrees of freedom of each feature's ``map_ / standard_error_``,
            the shape of ``map_``.
        significant_: Boolean, the shape of ``map_``: the features whose sign this run establishes, with the
            false-discovery rate across each map's features controlled at ``fdr_`` (Benjamini–Hochberg on t
            p-values; see :mod:`dianna_distance.uncertainty` for what this promises and what it does not).
            :meth:`significance` recomputes it at another rate. Features without a score are never significant.
        fdr_: The false-discovery rate of ``significant_`` (the class attribute ``fdr``, 0.05, unless
            :meth:`significance` was given another).
    """

    fdr = DEFAULT_FDR  # false-discovery rate of significant_ (a class default; significance(fdr) changes a run's)

    # The shared parameters, stored by a modality's __init__ (checked by attribute, so any value may be found).
    n_masks: int
    p_keep: float
    mask_selection_range_min: float
    mask_selection_range_max: float
    mask_selection_negative_range_min: float
    mask_selection_negative_range_max: float
    weighting: str
    batch_size: int | None
    distance: DistanceLike
    random_state: RandomState
    masks: np.ndarray | None
    progress: bool
    tolerance: float | None
    max_masks: int
    mask_pairs: str | None

    # The results of a run (set by attribute and the methods that recompute them).
    masks_: MaskArray
    embeddings_: np.ndarray
    distances_: np.ndarray
    weights_: np.ndarray
    positive_indices_: np.ndarray | list[np.ndarray]
    negative_indices_: np.ndarray | list[np.ndarray]
    embedded_reference_: np.ndarray
    n_masks_used_: int
    mask_pairs_: str | None
    converged_: bool | None
    map_: np.ndarray
    standard_error_: np.ndarray
    degrees_of_freedom_: np.ndarray
    significant_: np.ndarray
    fdr_: float

    def _store_shared_parameters(self, given: Mapping[str, Any]) -> None:
        """Store the :data:`SHARED_PARAMETERS` of ``__init__``'s ``locals()`` as given (:meth:`attribute` checks)."""
        for name in SHARED_PARAMETERS:
            setattr(self, name, given[name])

    # -- what a modality supplies ---------------------------------------------------------------------------------

    _input_noun = "inputs"  # what the masked inputs are called in messages

    def _validate_modality(self) -> None:
        """Check the modality's own parameters."""

    def _prepare_input(self, inputs: Any) -> Any:
        """Check the input; return what :meth:`_draw_masks` and :meth:`_masked_batch` need."""
        raise NotImplementedError

    def _draw_masks(self, prepared: Any, n_masks: int) -> MaskArray:
        """The masks, indexable like an array ``(n_masks, *feature_shape)``."""
        raise NotImplementedError

    def _masked_batch(self, prepared: Any, masks: np.ndarray) -> Any:
        """The model's input for a batch of masks ``(b, *feature_shape)``."""
        raise NotImplementedError

    def _masked_batch_at(self, prepared: Any, masks: np.ndarray, first: int) -> Any:
        """The model's input for masks ``first:first + len(masks)`` of the run; by default :meth:`_masked_batch`.

        A modality whose masked inputs depend on a mask's index as well as its values (tables draw a background
        row per mask from ``random_state`` and the index) overrides this.
        """
        return self._masked_batch(prepared, masks)

    def load_model(self, model: Any) -> Callable:
        """The model as the callable ``batch -> (b, D)`` that runs use; load it once to reuse it across runs."""
        raise NotImplementedError

    def _feature_shape(self, prepared: Any) -> tuple[int, ...]:
        """The shape of one mask, and of the map."""
        raise NotImplementedError

    def _input_size(self, prepared: Any) -> int:
        """Number of values in one model input, for the automatic batch size."""
        raise NotImplementedError

    def _unscored_features(self) -> np.ndarray | None:
        """Boolean ``feature_shape``: features of the last input that get no score (NaN); None: every feature."""
        return None

    # -- the algorithm --------------------------------------------------------------------------------------------

    def attribute(self, model: Any, inputs: Any, embedded_reference: np.ndarray) -> np.ndarray:
        """Explain why ``inputs`` is close to or far from ``embedded_reference`` in the model's embedded space.

        Args:
            model: The model (see the modality's class).
            inputs: The item to explain (see the modality's class).
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Map ``feature_shape`` for a ``(D,)`` reference, ``(K, *feature_shape)`` for ``(K, D)``.
        """
        self._validate_parameters()
        prepared = self._prepare_input(inputs)
        references = check_reference(embedded_reference, self.distance)
        run_model = self.load_model(model)
        if self.tolerance is None:
            masks = self._masks(prepared, self.n_masks)
            check_memory(self.n_masks * references.shape[1] * 8, "n_masks",
                         f"the embeddings of {self.n_masks} masked inputs of length {references.shape[1]}")
            embeddings = self._embed(run_model, prepared, masks, 0, len(masks), references.shape[1])
            self.converged_ = None
        else:
            masks = self._draw_masks(prepared, self.max_masks)

            used = [0]  # rounds take the masks in order: embed them by index, so a modality knows which they are

            def embed_round(batch: np.ndarray) -> np.ndarray:
                first = used[0]
                used[0] += len(batch)
                return self._embed(run_model, prepared, masks, first, used[0], references.shape[1], progress=False)

            result = embed_until_converged(
                embed_round, masks, references, self.tolerance, step=self.n_masks, distance=self.distance,
                positive_range=(self.mask_selection_range_min, self.mask_selection_range_max),
                negative_range=(self.mask_selection_negative_range_min, self.mask_selection_negative_range_max),
                progress=self.progress, weighting=self.weighting,
                cells=self._regression_cells(tuple(masks.shape[1:]), self.max_masks)
                if self.weighting == "regression" else None, paired=self._pairing() is not None)
            masks = masks.head(result.n_masks) if isinstance(masks, LazyMasks) else masks[: result.n_masks]
            embeddings, self.converged_ = result.embeddings, result.converged
            if not result.converged:
                warn(f"tolerance={self.tolerance} was not reached: the map's estimated spread is "
                     f"{result.spreads[-1]:.3g} after max_masks={result.n_masks} masks (converged_ is False); raise "
                     f"max_masks, or accept a larger tolerance", stacklevel=3)
            check_selection(result.n_masks, self._ranges(), self.weighting,
                             self.distance, stacklevel=4, used=True)
        return self._store_and_select(masks, embeddings, embedded_reference)

    def embed_masked(self, model: Any, inputs: Any, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Embed the input masked by masks ``start:stop`` of this explainer's ``n_masks`` masks.

        The masks are drawn from ``random_state`` and their index alone, so separate processes (for example the
        workers of a cluster) can each embed a range and :meth:`attribute_from_embeddings` gives the map of a
        local :meth:`attribute` run. This needs an int ``random_state`` (or given ``masks``).

        Args:
            model: The model (see the modality's class).
            inputs: The item to explain.
            start: First mask index.
            stop: One past the last mask index; default ``n_masks``.

        Returns:
            Float64 embeddings ``(stop - start, D)``.
        """
        self._validate_parameters()
        self._check_reproducible("embed_masked")
        stop = self.n_masks if stop is None else stop
        check_int(start, "start", minimum=0)
        check_int(stop, "stop", minimum=start)
        if stop > self.n_masks:
            raise ValueError(f"stop must be at most n_masks ({self.n_masks}), got {stop}")
        prepared = self._prepare_input(inputs)
        masks = self._masks(prepared, self.n_masks)
        return self._embed(self.load_model(model), prepared, masks, start, stop, None)

    def attribute_from_embeddings(self, inputs: Any, embeddings: np.ndarray, embedded_reference: np.ndarray
                                  ) -> np.ndarray:
        """The map from embeddings computed elsewhere (:meth:`embed_masked`), without running the model.

        Args:
            inputs: The item explained.
            embeddings: ``(n_masks, D)`` embeddings of the input masked by this explainer's masks, in order.
            embedded_reference: ``(D,)`` or ``(K, D)``.

        Returns:
            Map ``feature_shape``, or ``(K, *feature_shape)``.
        """
        self._validate_parameters()
        self._check_reproducible("attribute_from_embeddings")
        prepared = self._prepare_input(inputs)
        embeddings = check_embeddings(embeddings, self.n_masks, None)
        self.converged_ = None
        return self._store_and_select(self._masks(prepared, self.n_masks), embeddings, embedded_reference)

    def reselect(
        self,
        embedded_reference: np.ndarray | None = None,
        distance: DistanceLike | None = None,
        mask_selection_range_min: float | None = None,
        mask_selection_range_max: float | None = None,
        mask_selection_negative_range_min: float | None = None,
        mask_selection_negative_range_max: float | None = None,
        weighting: str | None = None,
    ) -> np.ndarray:
        """Recompute the map from the stored embeddings of the last run, without running the model again.

        Arguments left as None keep the value of the last run (the reference) or of the explainer (the rest).
        The run attributes (``distances_``, ``weights_``, ``positive_indices_``, ...) are updated to describe the
        returned map.

        Args:
            embedded_reference: Reference(s) ``(D,)`` or ``(K, D)``.
            distance: See the class parameters.
            mask_selection_range_min: See the class parameters.
            mask_selection_range_max: See the class parameters.
            mask_selection_negative_range_min: See the class parameters.
            mask_selection_negative_range_max: See the class parameters.
            weighting: See the class parameters.

        Returns:
            Map ``feature_shape``, or ``(K, *feature_shape)`` for ``(K, D)`` references.
        """
        if not hasattr(self, "embeddings_"):
            raise RuntimeError("reselect needs the embeddings of a run: call attribute() first")
        given = (mask_selection_range_min, mask_selection_range_max, mask_selection_negative_range_min,
                 mask_selection_negative_range_max)
        low, high, negative_low, negative_high = (own if value is None else value
                                                  for value, own in zip(given, self._ranges()))
        ranges = (low, high, negative_low, negative_high)
        weighting = self.weighting if weighting is None else weighting
        distance = self.distance if distance is None else distance
        check_selection(len(self.embeddings_), ranges, weighting, distance)
        reference = self.embedded_reference_ if embedded_reference is None else embedded_reference
        check_reference(reference, distance, self.embeddings_.shape[1])
        return self._select(reference, distance, ranges, weighting, getattr(self, "fdr_", None))

    # -- the steps ------------------------------------------------------------------------------------------------

    def _masks(self, prepared: Any, n_masks: int) -> MaskArray:
        """The run's masks: the given ``masks`` (checked) or drawn ones."""
        if self.masks is None:
            return self._draw_masks(prepared, n_masks)
        feature_shape = self._feature_shape(prepared)
        masks = check_numeric_array(self.masks, "masks")
        if masks.ndim == len(feature_shape) + 2 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        if masks.shape != (n_masks, *feature_shape):
            raise ValueError(f"masks must have shape {(n_masks, *feature_shape)} (n_masks, *feature_shape), got "
                             f"{np.shape(self.masks)}")
        if not np.all((masks >= 0) & (masks <= 1)):
            raise ValueError("masks must hold numbers in [0, 1] (NaN is not allowed)")
        return masks

    def _embed(self, run_model: Callable, prepared: Any, masks: MaskArray, start: int, stop: int,
               embedding_length: int | None, progress: bool | None = None) -> np.ndarray:
        """Embeddings ``(stop - start, D)`` of the input masked by ``masks[start:stop]``, batch by batch."""
        n_masks = stop - start
        batch_size = self.batch_size or auto_batch_size(self._input_size(prepared), n_masks)
        embeddings: np.ndarray | None = None
        show = self.progress if progress is None else progress
        with tqdm(total=n_masks, desc="Explaining", unit="mask", disable=not show) as bar:
            for offset in range(0, n_masks, batch_size):
                batch_masks = np.asarray(masks[start + offset : start + min(offset + batch_size, n_masks)],
                                         dtype=np.float32)
                output = run_model(self._masked_batch_at(prepared, batch_masks, start + offset))
                batch = check_embeddings(output, len(batch_masks), None if embeddings is None else embeddings.shape[1],
                                         self._input_noun)
                if embeddings is None:
                    if embedding_length is not None and batch.shape[1] != embedding_length:
                        raise ValueError(f"embedded_reference has length {embedding_length}, but the model's "
                                         f"embeddings have length {batch.shape[1]}")
                    embeddings = np.empty((n_masks, batch.shape[1]))
                embeddings[offset : offset + len(batch)] = batch
                bar.update(len(batch))
        return np.empty((0, embedding_length or 0)) if embeddings is None else embeddings

    def _store_and_select(self, masks: MaskArray, embeddings: np.ndarray, embedded_reference: np.ndarray) -> np.ndarray:
        check_reference(embedded_reference, self.distance, embeddings.shape[1])
        self.masks_, self.embeddings_, self.n_masks_used_ = masks, embeddings, len(embeddings)
        self.mask_pairs_ = self._pairing()
        return self._select(embedded_reference, self.distance, self._ranges(), self.weighting)

    def _select(self, embedded_reference: np.ndarray, distance: DistanceLike, ranges: Ranges, weighting: str,
                fdr: float | None = None) -> np.ndarray:
        """Rank the stored embeddings by distance to the reference(s), weight the masks, and sum them.

        ``fdr``: the false-discovery rate of ``significant_``; None: the class attribute ``fdr``.
        """
        references = check_reference(embedded_reference, distance)
        distances = compute_distances(self.embeddings_, references, distance)
        rows_weights: list[np.ndarray] = []
        positive: list[np.ndarray] = []
        negative: list[np.ndarray] = []
        constant: list[int] = []
        for k, row in enumerate(distances):
            if np.ptp(row) == 0:
                constant.append(k)
                row_weights, row_positive, row_negative = np.zeros(len(row)), np.array([], int), np.array([], int)
            elif weighting == "regression":
                row_weights, row_positive, row_negative = centred_weights(row)
            else:
                row_weights, row_positive, row_negative = select_masks(row, ranges[:2], ranges[2:], weighting)
            rows_weights.append(row_weights)
            positive.append(row_positive)
            negative.append(row_negative)
        if constant:
            self._warn_zero_map(constant, len(distances))
        weights = np.stack(rows_weights)
        self._null_centre: np.ndarray | None = None
        if weighting == "regression":  # the pooled design is kept, so that reselect reads the masks once
            cells = self._regression_cells(tuple(self.masks_.shape[1:]), len(self.masks_))
            self._design_cache = design_for(self.masks_, cells, getattr(self, "_design_cache", None))
            maps, standard_error, degrees_of_freedom = regression_map(
                self.masks_, distances, cells, self._design_cache[2], self.mask_pairs_ is not None)
        else:
            maps, standard_error, degrees_of_freedom = map_with_uncertainty(self.masks_, weights, SUM_VALUES)
            if self.mask_pairs_ is not None:
                warn(f"weighting={weighting!r} on paired masks (mask_pairs_={self.mask_pairs_!r}): its standard errors "
                     "treat the masks as independent, which the two masks of a pair are not (significant_ may mark "
                     "too much); use mask_pairs=None for a rank weighting's significance", stacklevel=3)
            totals = weights.sum(axis=1)
            if np.any(np.abs(totals) > 1e-9):
                # A one-sided selection: with no effect its map is sum(w) times the masks' mean, not 0.
                self._null_centre = totals.reshape((-1,) + (1,) * (maps.ndim - 1)) * mask_mean(self.masks_)
        unscored = self._unscored_features()
        if unscored is not None and np.any(unscored):
            for values in (maps, standard_error, degrees_of_freedom):
                values[:, np.asarray(unscored, dtype=bool)] = np.nan
        single = np.ndim(embedded_reference) == 1
        self._null_centre = self._null_centre[0] if single and self._null_centre is not None else self._null_centre
        self.embedded_reference_ = np.asarray(embedded_reference)
        self.weighting_ = weighting
        self.distances_ = distances[0] if single else distances
        self.weights_ = weights[0] if single else weights
        self.positive_indices_ = positive[0] if single else _stack_ragged(positive)
        self.negative_indices_ = negative[0] if single else _stack_ragged(negative)
        self.map_ = maps[0] if single else maps
        self.standard_error_ = standard_error[0] if single else standard_error
        self.degrees_of_freedom_ = degrees_of_freedom[0] if single else degrees_of_freedom
        self.significance(self.fdr if fdr is None else fdr)
        return self.map_.copy()  # the caller may change its map; map_ stays what significant_ describes

    def _regression_cells(self, feature_shape: tuple[int, ...], n_masks: int) -> np.ndarray:
        """The cells of ``weighting="regression"`` for ``n_masks`` masks: int ``feature_shape``; default: features."""
        return identity_cells(feature_shape)

    def _pairing(self) -> str | None:
        """``mask_pairs``, ``"auto"`` resolved: :meth:`_auto_pairing` for drawn masks, None for given ``masks``."""
        if check_mask_pairs(self.mask_pairs, allow_auto=True) != "auto":
            return self.mask_pairs
        return self._auto_pairing() if self.masks is None else None

    def _auto_pairing(self) -> str | None:
        """What ``mask_pairs="auto"`` means for drawn masks of the modality: by default None (independent masks)."""
        return None

    def significance(self, fdr: float | None = None) -> np.ndarray:
        """The features whose sign the last run establishes, at false-discovery rate ``fdr``; sets ``significant_``.

        Benjamini–Hochberg across the features of each map on the two-sided p-values of ``map_ /
        standard_error_`` (Student's t with ``degrees_of_freedom_``;
        :func:`~dianna_distance.uncertainty.significant_features`, which documents what this promises and what
        it does not). A feature whose standard error is 0 is judged with the standard error it would have if one
        mask of each selection disagreed (:func:`~dianna_distance.uncertainty.standard_error_floor`). No model
        call.

        Args:
            fdr: False-discovery rate in (0, 1); default the class attribute ``fdr`` (0.05).

        Returns:
            Boolean array of the map's shape (also stored as ``significant_``, and ``fdr`` as ``fdr_``).
        """
        if not hasattr(self, "standard_error_"):
            raise RuntimeError("significance needs a run: call attribute() first")
        fdr = check_fdr(self.fdr if fdr is None else fdr)
        several = np.ndim(self.weights_) == 2
        regression = getattr(self, "weighting_", None) == "regression"
        centre = getattr(self, "_null_centre", None)
        scores = self.map_ if centre is None else self.map_ - centre
        self.significant_ = significant_features(scores, self.standard_error_, fdr,
                                                 standard_error_floor=None if regression
                                                 else standard_error_floor(self.weights_),
                                                 n_maps=len(self.weights_) if several else None,
                                                 degrees_of_freedom=self.degrees_of_freedom_)
        self.fdr_ = fdr
        return self.significant_

    def _warn_zero_map(self, constant: list[int], n_references: int) -> None:
        """Say why every masked input has the same distance to a reference: too few masks, no masking, or the model."""
        if len(self.embeddings_) == 1:
            warn("one mask gives one distance and nothing to rank, so the map is zero: use n_masks of at least 2 "
                 "(hundreds for a useful map)", stacklevel=6)
        elif all_equal(self.masks_):
            kept = " (p_keep=1 keeps every feature)" if getattr(self, "p_keep", None) == 1 else ""
            warn(f"every mask is the same{kept}: no masking happened, so every masked input is the same and the map "
                 f"is zero; use p_keep < 1 (or masks that differ)", stacklevel=6)
        else:
            for k in constant:
                which = "" if n_references == 1 else f" for reference {k}"
                warn(f"every masked input has the same distance to the reference{which}: the model's output did not "
                     "change under masking, so the map is zero", stacklevel=6)

    # -- validation -----------------------------------------------------------------------------------------------

    def check_parameters(self) -> None:
        """Check every parameter now, without a model or an input (:meth:`attribute` does this itself).

        Raises:
            ValueError, TypeError: A parameter is out of range or of the wrong type; the message names it.
        """
        self._validate_parameters()

    def _validate_parameters(self) -> None:
        check_int(self.n_masks, "n_masks", minimum=1)
        check_fraction(self.p_keep, "p_keep", low_open=True)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", minimum=1)
        # With tolerance, n_masks is a round's count: the ranges are judged on the masks the run used, after it.
        check_selection(self.n_masks, self._ranges(), self.weighting,
                         self.distance, stacklevel=5, warn_empty=self.tolerance is None)
        check_fdr(self.fdr)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")
        if self.tolerance is not None:
            tolerance = real_number(self.tolerance)
            if tolerance is None or not np.isfinite(tolerance) or tolerance <= 0:
                raise ValueError(f"tolerance must be None or a positive number, got {self.tolerance!r}")
            check_int(self.max_masks, "max_masks", minimum=self.n_masks)
            if self.masks is not None:
                raise ValueError("masks and tolerance cannot be combined: given masks fix the number of masks")
        check_mask_pairs(self.mask_pairs, allow_auto=True)
        self._validate_modality()

    def _ranges(self) -> Ranges:
        """The selection ranges of the parameters."""
        return (self.mask_selection_range_min, self.mask_selection_range_max, self.mask_selection_negative_range_min,
                self.mask_selection_negative_range_max)

    def _check_reproducible(self, method: str) -> None:
        if self.masks is None and not isinstance(self.random_state, numbers.Integral):
            raise ValueError(f"{method} needs an int random_state (or given masks), so that every call draws the "
                             f"same masks; got random_state={self.random_state!r}")
        if self.tolerance is not None:
            raise ValueError(f"{method} works with a fixed number of masks: tolerance must be None")


def _stack_ragged(rows: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Index arrays of K references: one ``(K, n)`` array when they have one length (no ties), else a list."""
    return np.stack(rows) if len({len(row) for row in rows}) == 1 else rows
