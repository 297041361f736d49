"""Explain both sides of a pair at once: which parts of A go with which parts of B (second-order explanations).

:class:`PairDistanceExplainer` masks an item A (a text, an image, a series or a table row) and an item B jointly,
embeds each masked item with its own model (or one model for both), and from the distances of the masked pairs
estimates each side's first-order map and the interactions between A's features and B's: for an image and its
caption, which word binds which region. What the scores mean, and how they are estimated, is in
:mod:`dianna_distance.interactions`; how each side's features are made (words, image grid cells, time segments,
table features) in :mod:`dianna_distance.pair_sides`.

**Cost.** One joint sample is two model calls, one per side (batched, ``batch_size`` items per call; with one
model for both sides it is loaded once, one ONNX Runtime session). The same samples give both first-order maps and
the interactions. The interactions need more samples than a single-side map: their standard error falls as
``1 / sqrt(n_masks)`` (docs/pairs.md measures it); ``tolerance`` adds ``n_masks`` samples at a time until the mean
standard error of the interactions falls to it.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from dianna_distance.checks import check_bool, check_fraction, check_int, check_random_state, real_number, warn
from dianna_distance.core import check_embeddings
from dianna_distance.distances import DistanceLike, get_distance
from dianna_distance.image import check_image_fits_model
from dianna_distance.interactions import (
    PAIR_WEIGHTINGS,
    PairEstimate,
    estimate_pair,
    minimum_samples,
    pair_values,
    paired_distances,
)
from dianna_distance.model import OnnxModel
from dianna_distance.pair_sides import RenderedMasks, Side, feature_names, make_side, same_model, side_seeds
from dianna_distance.uncertainty import DEFAULT_FDR, check_fdr, significant_features

SIDES = ("a", "b")


class PairDistanceExplainer:
    """Explain the distance between two items, each embedded by its own model: both sides and what binds them.

    Both items are masked jointly (each side's features kept independently with probability ``p_keep``); each
    masked item is embedded by its side's model; the distance of each masked pair gives, from the same samples,
    each side's first-order map and the interactions of A's features with B's
    (:mod:`dianna_distance.interactions`: ``interactions_[j, k]`` is how much closer the pair gets when feature
    ``j`` of A and feature ``k`` of B are both present, beyond what each brings alone).

    Parameters are stored as given and checked when :meth:`attribute` runs.

    Args:
        n_masks: Number of joint samples (each: one model call per side); with ``tolerance``, samples per round.
        p_keep: Probability that a feature of either side is kept, in (0, 1).
        weighting: A sample's value: ``"distance"`` (default, ``-distance``: scores in units of distance),
            ``"linear"`` or ``"normal"`` rank scores of the distance
            (:func:`~dianna_distance.interactions.pair_values`).
        distance: ``"cosine"`` (``(1 - cos) / 2``), ``"euclidean"``, or a callable
            ``(embeddings (N, D), reference (D,)) -> (N,)`` (called once per pair).
        batch_size: Masked items per model call (each side); default automatic.
        random_state: Seed (int) or :class:`numpy.random.Generator`; each side's masks get their own seed from it.
        progress: Show progress bars.
        tolerance: Add ``n_masks`` samples at a time until the mean standard error of the interactions is at most
            this, or ``max_masks`` samples are used; None (default): exactly ``n_masks``.
        max_masks: Upper limit on the samples with ``tolerance``.
        modality_a: ``"text"``, ``"image"``, ``"series"``, ``"table"``, or None (default) to tell it from
            ``item_a`` (a str is a text, a 3-D array an image ``(H, W, C)``, 2-D a series ``(T, C)``, 1-D a row).
        modality_b: The same for ``item_b``.
        feature_res_a: Image: grid cells per axis (``g x g`` cells, the features of the interactions; see
            :mod:`dianna_distance.pair_sides` for how cells map to pixels); series: number of time segments.
            Ignored for texts and tables.
        feature_res_b: The same for side B.
        tokenizer_a: A text side's tokenizer (as :class:`~dianna_distance.TextDistanceExplainer` takes it).
        tokenizer_b: The same for side B.
        options_a: Further parameters of side A's modality explainer: ``mask_token`` (text), ``preprocess_function``
            and ``axis_labels`` (image, series), ``mask_type`` (series and table fills), ``training_data``,
            ``feature_names``, ``categorical_features`` (table), ``providers``, ``embedding_output``, ...
        options_b: The same for side B.

    Attributes:
        fdr: False-discovery rate of the significance attributes (a class attribute, 0.05).
        modality_a_: Side A's modality; ``modality_b_`` side B's.
        features_a_: Side A's feature names (words, ``"cell (r, c)"``, ``"steps t0-t1"``, table feature names), in
            the order of ``interactions_``' rows; ``features_b_`` for its columns.
        grid_a_: Side A's features' layout: ``(g, g)`` image cells (feature ``r * g + c``), ``(S,)`` segments,
            ``(F,)`` words or table features; ``grid_b_``.
        masks_a_: ``(n, F_A)`` boolean keep values of side A's features in each joint sample; ``masks_b_``.
        embeddings_a_: ``(n, D)`` embeddings of the masked items A; ``embeddings_b_``.
        distances_: ``(n,)`` the distance of each masked pair. ``values_``: the samples' values (``-distances_``
            or their rank scores).
        scores_a_: ``(F_A,)`` side A's first-order scores per feature; ``scores_b_``.
        map_a_: Side A's first-order map in its item's shape (``(H, W)``: each pixel its cell's score; ``(F,)``;
            ``(T, C)``): positive where the part's presence brings the pair closer; ``map_b_``.
        standard_error_a_: The standard error of ``map_a_``, its shape; ``standard_error_b_`` of ``map_b_``.
        significant_a_: Booleans, the shape of ``map_a_``: signs established at false-discovery rate ``fdr_``;
            ``significant_b_`` for ``map_b_``.
        interactions_: ``(F_A, F_B)`` interaction of feature ``j`` of A with feature ``k`` of B.
        interactions_standard_error_: ``(F_A, F_B)``.
        interactions_significant_: ``(F_A, F_B)`` booleans, Benjamini–Hochberg across all ``F_A F_B``.
        degrees_of_freedom_: Of every score's t statistic, ``n - F_A - F_B - 2``.
        n_masks_used_: Number of joint samples (differs from ``n_masks`` with ``tolerance``).
        converged_: With ``tolerance``: whether it was reached; else None.
        fdr_: The false-discovery rate of the significance attributes.

    Example:
        >>> explainer = PairDistanceExplainer(n_masks=2000, random_state=0)
        >>> explainer.attribute(image_encoder, image, text_encoder, "a bee and a car",
        ...                     options_a=kwargs)  # doctest: +SKIP
        >>> explainer.interaction_map("bee")  # (H, W): which regions the word "bee" binds  # doctest: +SKIP
    """

    fdr = DEFAULT_FDR

    modality_a_: str
    modality_b_: str
    features_a_: list[str]
    features_b_: list[str]
    grid_a_: tuple[int, ...]
    grid_b_: tuple[int, ...]
    masks_a_: np.ndarray
    masks_b_: np.ndarray
    embeddings_a_: np.ndarray
    embeddings_b_: np.ndarray
    distances_: np.ndarray
    values_: np.ndarray
    scores_a_: np.ndarray
    scores_b_: np.ndarray
    map_a_: np.ndarray
    map_b_: np.ndarray
    standard_error_a_: np.ndarray
    standard_error_b_: np.ndarray
    significant_a_: np.ndarray
    significant_b_: np.ndarray
    interactions_: np.ndarray
    interactions_standard_error_: np.ndarray
    interactions_significant_: np.ndarray
    degrees_of_freedom_: float
    n_masks_used_: int
    converged_: bool | None
    fdr_: float

    def __init__(
        self,
        n_masks: int = 2000,
        p_keep: float = 0.5,
        weighting: str = "distance",
        distance: DistanceLike = "cosine",
        batch_size: int | None = None,
        random_state: int | np.random.Generator | None = None,
        progress: bool = True,
        tolerance: float | None = None,
        max_masks: int = 20_000,
        modality_a: str | None = None,
        modality_b: str | None = None,
        feature_res_a: int = 8,
        feature_res_b: int = 8,
        tokenizer_a: object = None,
        tokenizer_b: object = None,
        options_a: dict[str, Any] | None = None,
        options_b: dict[str, Any] | None = None,
    ) -> None:
        self.n_masks = n_masks
        self.p_keep = p_keep
        self.weighting = weighting
        self.distance = distance
        self.batch_size = batch_size
        self.random_state = random_state
        self.progress = progress
        self.tolerance = tolerance
        self.max_masks = max_masks
        self.modality_a = modality_a
        self.modality_b = modality_b
        self.feature_res_a = feature_res_a
        self.feature_res_b = feature_res_b
        self.tokenizer_a = tokenizer_a
        self.tokenizer_b = tokenizer_b
        self.options_a = options_a
        self.options_b = options_b

    def get_params(self) -> dict[str, Any]:
        """The parameters as given (scikit-learn style): ``PairDistanceExplainer(**explainer.get_params())``."""
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    # -- the run --------------------------------------------------------------------------------------------------

    def attribute(self, model_a: Any, item_a: Any, model_b: Any, item_b: Any) -> np.ndarray:
        """Explain the distance between ``item_a`` (embedded by ``model_a``) and ``item_b`` (by ``model_b``).

        Args:
            model_a: Side A's model, as its modality's explainer takes it: a callable batch -> ``(B, D)`` (texts:
                ``list[str]``; images ``(B, H, W, C)`` after ``preprocess_function``; series ``(B, T, C)``; rows
                ``(B, F)``) or the path of an ONNX file.
            item_a: A text (str), an image ``(H, W, C)``, a series ``(T, C)`` or a table row ``(F,)``.
            model_b: Side B's model; may be ``model_a`` itself (then it is loaded once).
            item_b: Side B's item.

        Returns:
            The interactions ``(F_A, F_B)`` (a copy of ``interactions_``); the first-order maps are ``map_a_`` and
            ``map_b_``.

        Raises:
            ValueError, TypeError: A bad parameter, an empty or unrecognised item, a modality that does not fit its
                item, too few samples for the features, or a model that fails or returns unusable embeddings (the
                message names the side).
        """
        sides = self._prepare(item_a, item_b)
        models = self._load_models(sides, model_a, model_b)
        capacity = self.n_masks if self.tolerance is None else self.max_masks
        masks = [side.masks(capacity, seed, float(self.p_keep)) for side, seed in zip(sides, self._seeds)]
        embeddings: list[list[np.ndarray]] = [[], []]
        used, self.converged_ = 0, None
        while True:
            stop = min(used + self.n_masks, capacity)
            for k, side in enumerate(sides):
                embeddings[k].append(self._embed_side(side, models[k], masks[k], used, stop))
            if used == 0 and embeddings[0][0].shape[1] != embeddings[1][0].shape[1]:
                raise ValueError(f"the two sides must be embedded in one space: model_a returned embeddings of "
                                 f"length {embeddings[0][0].shape[1]}, model_b of length {embeddings[1][0].shape[1]}")
            used = stop
            self._store(sides, masks, [np.concatenate(parts) for parts in embeddings])
            if self.tolerance is None:
                return self.interactions_.copy()
            spread = float(np.mean(self.interactions_standard_error_))
            if spread <= float(self.tolerance) or used >= capacity:
                self.converged_ = spread <= float(self.tolerance)
                if not self.converged_:
                    warn(f"tolerance={self.tolerance} was not reached: the interactions' mean standard error is "
                         f"{spread:.3g} after max_masks={used} samples (converged_ is False); raise max_masks, or "
                         "accept a larger tolerance", stacklevel=2)
                return self.interactions_.copy()

    def embed_masked(self, model_a: Any, item_a: Any, model_b: Any, item_b: Any, start: int = 0,
                     stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embed joint samples ``start:stop`` of this explainer's ``n_masks``, both sides.

        For a run spread over processes, or saved to reopen later: :meth:`attribute_from_embeddings` gives
        :meth:`attribute`'s results from them.

        Needs an int ``random_state`` (the samples are drawn from it and their index alone) and no ``tolerance``.

        Returns:
            ``(embeddings_a, embeddings_b)``, each float64 ``(stop - start, D)``.
        """
        self._check_reproducible("embed_masked")
        stop = self.n_masks if stop is None else stop
        check_int(start, "start", minimum=0)
        check_int(stop, "stop", minimum=start)
        if stop > self.n_masks:
            raise ValueError(f"stop must be at most n_masks ({self.n_masks}), got {stop}")
        sides = self._prepare(item_a, item_b)
        models = self._load_models(sides, model_a, model_b)
        masks = [side.masks(self.n_masks, seed, float(self.p_keep)) for side, seed in zip(sides, self._seeds)]
        embedded = [self._embed_side(side, models[k], masks[k], start, stop) for k, side in enumerate(sides)]
        return embedded[0], embedded[1]

    def attribute_from_embeddings(self, item_a: Any, item_b: Any, embeddings_a: np.ndarray,
                                  embeddings_b: np.ndarray) -> np.ndarray:
        """The results of :meth:`attribute` from embeddings of its joint samples made elsewhere, without models.

        Args:
            item_a: Side A's item, as explained.
            item_b: Side B's item.
            embeddings_a: ``(n_masks, D)`` the masked items A in sample order (:meth:`embed_masked`, or a saved
                ``embeddings_a_`` of a run with the same parameters and int ``random_state``).
            embeddings_b: ``(n_masks, D)``.

        Returns:
            The interactions ``(F_A, F_B)``.
        """
        self._check_reproducible("attribute_from_embeddings")
        sides = self._prepare(item_a, item_b)
        checked = [check_embeddings(values, self.n_masks, None, f"masked items {side.name}")
                   for values, side in zip((embeddings_a, embeddings_b), sides)]
        masks = [side.masks(self.n_masks, seed, float(self.p_keep)) for side, seed in zip(sides, self._seeds)]
        self.converged_ = None
        self._store(sides, masks, checked)
        return self.interactions_.copy()

    def reselect(self, distance: DistanceLike | None = None, weighting: str | None = None) -> np.ndarray:
        """Recompute every result from the stored embeddings, without the models (another distance or weighting).

        Args:
            distance: See the class parameters; None keeps the explainer's.
            weighting: See the class parameters; None keeps the explainer's.

        Returns:
            The interactions ``(F_A, F_B)``.
        """
        if not hasattr(self, "embeddings_a_"):
            raise RuntimeError("reselect needs the embeddings of a run: call attribute() first")
        distance = self.distance if distance is None else distance
        weighting = self.weighting if weighting is None else weighting
        _check_value_choice(distance, weighting)
        self._estimate(distance, weighting)
        return self.interactions_.copy()

    def significance(self, fdr: float | None = None) -> np.ndarray:
        """Which interactions (and first-order scores) the run establishes at false-discovery rate ``fdr``.

        Benjamini–Hochberg on two-sided t p-values, across all ``F_A x F_B`` interactions, and separately across
        each side's features; sets ``interactions_significant_``, ``significant_a_``, ``significant_b_`` and
        ``fdr_``. No model call.

        Returns:
            ``interactions_significant_``.
        """
        if not hasattr(self, "interactions_"):
            raise RuntimeError("significance needs a run: call attribute() first")
        fdr = check_fdr(self.fdr if fdr is None else fdr)
        dof = max(self.degrees_of_freedom_, 1.0)

        def marked(scores: np.ndarray, errors: np.ndarray) -> np.ndarray:
            return significant_features(scores, errors, fdr, degrees_of_freedom=np.full(scores.shape, dof))

        self.interactions_significant_ = marked(self.interactions_, self.interactions_standard_error_)
        side_a, side_b = self._sides
        self.significant_a_ = side_a.to_item(marked(self.scores_a_, self._errors[0]))
        self.significant_b_ = side_b.to_item(marked(self.scores_b_, self._errors[1]))
        self.fdr_ = fdr
        return self.interactions_significant_

    # -- reading the results ----------------------------------------------------------------------------------------

    def feature_index(self, feature: int | str, side: str = "b") -> int:
        """The index of a feature of ``side``.

        An int is taken as it is; a name is one of ``features_a_`` / ``features_b_`` (a repeated word's later
        occurrences are ``"word#2"``, ...).
        """
        names = feature_names(self._features(side))
        if isinstance(feature, str):
            if feature not in names:
                raise ValueError(f"feature {feature!r} is not a feature of side {side}; its features are {names}")
            return names.index(feature)
        if not isinstance(feature, numbers.Integral) or isinstance(feature, bool):
            raise TypeError(f"feature must be an int index or a feature name (str), got {feature!r}")
        if not -len(names) <= feature < len(names):
            raise IndexError(f"feature {feature} is out of range for side {side}'s {len(names)} features")
        return int(feature) % len(names)

    def interaction_map(self, feature: int | str, side: str = "b", values: str = "interactions") -> np.ndarray:
        """How the parts of one item interact with one feature of the other, as a map over the first item.

        Args:
            feature: The feature (index or name) of ``side``: with ``side="b"`` (default), a feature of B (a word of
                a caption), and the map is over item A in its shape (``(H, W)`` for an image, ``(F,)``, ``(T, C)``);
                with ``side="a"``, a feature of A and the map over item B.
            side: ``"a"`` or ``"b"``: whose feature ``feature`` is.
            values: ``"interactions"`` (default), ``"standard_error"`` or ``"significant"``.

        Returns:
            The map over the other side's item.
        """
        if not hasattr(self, "interactions_"):
            raise RuntimeError("interaction_map needs a run: call attribute() first")
        tables = {"interactions": self.interactions_, "standard_error": self.interactions_standard_error_,
                  "significant": self.interactions_significant_}
        if values not in tables:
            raise ValueError(f"values must be one of {list(tables)}, got {values!r}")
        index = self.feature_index(feature, side)
        table = tables[values]
        if side == "b":
            return self._sides[0].to_item(table[:, index])
        return self._sides[1].to_item(table[index, :])

    def top_interactions(self, n: int = 10, significant_only: bool = False
                         ) -> list[tuple[str, str, float, float, bool]]:
        """The ``n`` largest interactions (the strongest bindings), largest first.

        Returns:
            ``(feature of A, feature of B, score, standard error, significant)`` tuples.
        """
        if not hasattr(self, "interactions_"):
            raise RuntimeError("top_interactions needs a run: call attribute() first")
        check_int(n, "n", minimum=1)
        order = np.argsort(-self.interactions_, axis=None, kind="stable")
        rows = []
        for flat in order:
            j, k = np.unravel_index(flat, self.interactions_.shape)
            significant = bool(self.interactions_significant_[j, k])
            if significant_only and not significant:
                continue
            rows.append((self.features_a_[j], self.features_b_[k], float(self.interactions_[j, k]),
                         float(self.interactions_standard_error_[j, k]), significant))
            if len(rows) == n:
                break
        return rows

    def masked_distances(self, model_a: Any, model_b: Any, keep_a: np.ndarray, keep_b: np.ndarray) -> np.ndarray:
        """Distances of the last run's items masked by given feature keep values (for evaluations: deletion).

        Args:
            model_a: Side A's model, as :meth:`attribute` takes it.
            model_b: Side B's model.
            keep_a: ``(m, F_A)`` keep values (1 keep, 0 drop) of side A's features.
            keep_b: ``(m, F_B)``.

        Returns:
            ``(m,)`` distances of the pairs (with the explainer's ``distance``).
        """
        if not hasattr(self, "_sides"):
            raise RuntimeError("masked_distances needs a run: call attribute() first")
        keeps = []
        for side, keep in zip(self._sides, (keep_a, keep_b)):
            values = np.asarray(keep)
            if values.ndim != 2 or values.shape[1] != side.n_features or not np.all((values == 0) | (values == 1)):
                raise ValueError(f"keep_{side.name} must be 0/1 values (m, {side.n_features}), got shape "
                                 f"{values.shape}")
            keeps.append(values.astype(bool))
        if len(keeps[0]) != len(keeps[1]):
            raise ValueError(f"keep_a and keep_b must have one row per pair, got {len(keeps[0])} and {len(keeps[1])}")
        models = self._load_models(self._sides, model_a, model_b)
        embedded = []
        for side, run, keep in zip(self._sides, models, keeps):
            masks = RenderedMasks(keep, side.render, side.mask_shape())
            embedded.append(self._embed_side(side, run, masks, 0, len(keep)))
        return paired_distances(embedded[0], embedded[1], self.distance)

    # -- the steps --------------------------------------------------------------------------------------------------

    def check_parameters(self) -> None:
        """Check every parameter that needs no item (:meth:`attribute` does this itself)."""
        check_int(self.n_masks, "n_masks", minimum=1)
        p_keep = check_fraction(self.p_keep, "p_keep", low_open=True)
        if p_keep >= 1:
            raise ValueError(f"p_keep must be below 1 for a pair: a feature that is always kept has no effect to "
                             f"measure, got {self.p_keep!r}")
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", minimum=1)
        _check_value_choice(self.distance, self.weighting)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")
        check_fdr(self.fdr)
        check_int(self.feature_res_a, "feature_res_a", minimum=1)
        check_int(self.feature_res_b, "feature_res_b", minimum=1)
        if self.tolerance is not None:
            tolerance = real_number(self.tolerance)
            if tolerance is None or not np.isfinite(tolerance) or tolerance <= 0:
                raise ValueError(f"tolerance must be None or a positive number, got {self.tolerance!r}")
            check_int(self.max_masks, "max_masks", minimum=self.n_masks)

    def _prepare(self, item_a: Any, item_b: Any) -> list[Side]:
        """Check the parameters and both items; make both sides (and the sides' seeds)."""
        self.check_parameters()
        self._seeds = side_seeds(self.random_state)
        sides = [make_side(name, item, modality, options, feature_res, tokenizer, self.batch_size, seed)
                 for name, item, modality, options, feature_res, tokenizer, seed in zip(
                     SIDES, (item_a, item_b), (self.modality_a, self.modality_b), (self.options_a, self.options_b),
                     (self.feature_res_a, self.feature_res_b), (self.tokenizer_a, self.tokenizer_b), self._seeds)]
        needed = minimum_samples(sides[0].n_features, sides[1].n_features)
        if self.n_masks < needed:
            raise ValueError(f"n_masks must be at least {needed} for {sides[0].n_features} x {sides[1].n_features} "
                             f"features (F_A + F_B + 3; several times that for useful interactions), got "
                             f"{self.n_masks}")
        return sides

    def _load_models(self, sides: list[Side], model_a: Any, model_b: Any) -> list[Callable]:
        """Both sides' models as callables; one model for both sides of one modality is loaded once."""
        loaded: list[Callable] = []
        for side, model in zip(sides, (model_a, model_b)):
            if loaded and sides[0].modality == side.modality and same_model(model_a, model_b):
                loaded.append(loaded[0])
                continue
            try:
                run = side.explainer.load_model(model)
                if (side.modality == "image" and isinstance(run, OnnxModel)
                        and getattr(side.explainer, "preprocess_function", None) is None):
                    check_image_fits_model(side.prepared.pixels.shape, run)
            except (TypeError, ValueError, FileNotFoundError) as error:
                raise type(error)(f"model_{side.name}: {error}") from error
            loaded.append(run)
        return loaded

    def _embed_side(self, side: Side, run_model: Callable, masks: RenderedMasks, start: int, stop: int
                    ) -> np.ndarray:
        """Embeddings of side ``side``'s item masked by its masks ``start:stop`` (the core's batching loop)."""
        try:
            return side.explainer._embed(run_model, side.prepared, masks, start, stop, None,  # noqa: SLF001
                                         progress=self.progress)
        except Exception as error:  # noqa: BLE001 (any model failure: name the side, keep the type)
            message = f"model_{side.name} failed on the masked item_{side.name} ({side.modality}): {error}"
            try:
                raised = type(error)(message)
            except Exception:  # noqa: BLE001 (an exception type that takes other arguments)
                raised = RuntimeError(message)
            raise raised from error

    def _store(self, sides: list[Side], masks: list[RenderedMasks], embeddings: list[np.ndarray]) -> None:
        used = len(embeddings[0])
        self._sides = sides
        self.modality_a_, self.modality_b_ = sides[0].modality, sides[1].modality
        self.features_a_, self.features_b_ = sides[0].labels, sides[1].labels
        self.grid_a_, self.grid_b_ = sides[0].grid, sides[1].grid
        self.masks_a_, self.masks_b_ = (np.asarray(side_masks.features[:used]) for side_masks in masks)
        self.embeddings_a_, self.embeddings_b_ = embeddings
        self.n_masks_used_ = used
        self._estimate(self.distance, self.weighting)

    def _estimate(self, distance: DistanceLike, weighting: str) -> None:
        self.distances_ = paired_distances(self.embeddings_a_, self.embeddings_b_, distance)
        self.values_ = pair_values(self.distances_, weighting)
        if np.ptp(self.values_) == 0:
            warn("every masked pair has the same distance: the models' outputs did not change under masking, so "
                 "every score is zero", stacklevel=4)
        estimate: PairEstimate = estimate_pair(self.masks_a_, self.masks_b_, self.values_, float(self.p_keep),
                                               float(self.p_keep))
        side_a, side_b = self._sides
        self.scores_a_, self.scores_b_ = estimate.scores_a, estimate.scores_b
        self._errors = (estimate.standard_error_a, estimate.standard_error_b)
        self.map_a_, self.map_b_ = side_a.to_item(estimate.scores_a), side_b.to_item(estimate.scores_b)
        self.standard_error_a_ = side_a.to_item(estimate.standard_error_a)
        self.standard_error_b_ = side_b.to_item(estimate.standard_error_b)
        self.interactions_ = estimate.interactions
        self.interactions_standard_error_ = estimate.standard_error
        self.degrees_of_freedom_ = estimate.degrees_of_freedom
        self.significance(self.fdr)

    def _features(self, side: str) -> list[str]:
        if side not in SIDES:
            raise ValueError(f"side must be 'a' or 'b', got {side!r}")
        if not hasattr(self, "features_a_"):
            raise RuntimeError("the features are known after a run: call attribute() first")
        return self.features_a_ if side == "a" else self.features_b_

    def _check_reproducible(self, method: str) -> None:
        if not isinstance(self.random_state, numbers.Integral) or isinstance(self.random_state, bool):
            raise ValueError(f"{method} needs an int random_state, so that every call draws the same masks; got "
                             f"random_state={self.random_state!r}")
        if self.tolerance is not None:
            raise ValueError(f"{method} works with a fixed number of samples: tolerance must be None")


def _check_value_choice(distance: object, weighting: object) -> None:
    get_distance(distance)  # type: ignore[arg-type]
    if not isinstance(weighting, str) or weighting not in PAIR_WEIGHTINGS:
        raise ValueError(f"weighting must be one of {PAIR_WEIGHTINGS}, got {weighting!r}")

