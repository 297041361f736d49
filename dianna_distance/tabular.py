"""Tables: the Distance Explainer for one row of tabular data, one score per feature (column).

A mask keeps each feature of the row with probability ``p_keep`` (:class:`~dianna_distance.masks.WordMasks`,
drawn lazily and block-seeded). A **masked feature takes a value from the background data** (``training_data``,
``(N, F)``), as DIANNA does for tables; ``mask_type`` says how:

- ``"sample"``: every masked input draws **one background row** at random, and all its masked features
  take that row's values (categorical features take that row's category). This is the interventional masking of
  KernelSHAP, which averages the model over background rows: here each masked input is one draw of that average,
  so the cost stays one model call per mask. The row of mask ``i`` is drawn from ``random_state`` and ``i`` alone
  (with the masks, :class:`~dianna_distance.masks.TabularMasks`; for given ``masks``,
  :class:`~dianna_distance.masks.BackgroundRows`), so
  :meth:`~dianna_distance.core.MaskedDistanceExplainer.embed_masked` on a range of masks, in any process, gives the
  rows (and the map) of a local run.
- ``"most_frequent"``: DIANNA's RISE default (``mask_data_tabular`` with scikit-learn's ``SimpleImputer``): each
  masked feature takes its column's most frequent background value (the smallest of tied values, as
  ``SimpleImputer`` does; for a continuous feature whose values are all distinct that is its minimum).
- ``"mean"`` (default): DIANNA's other RISE strategy: the column mean, except for categorical features
  (``categorical_features``), which take their most frequent category, never a mean.

The fills answer different questions. ``"mean"`` asks *what does this row's value of the feature do, compared with
an average value?*: every masked input differs from the row only in the masked features, so the only noise is the
masks'. ``"sample"`` asks *what does it do compared with the values the feature takes in the data, on average?*
(KernelSHAP's interventional question), at the price of a background row's own noise in every call: on a planted
table (``benchmarks/estimators.py``) the map at 200 calls correlates 0.96 with its 8000-call limit with
``"sample"`` and 0.998 with ``"mean"``, which is why ``"mean"`` is the default (a feature whose value is the mean
then gets no score, rightly: replacing it by the mean changes nothing).
- a number: every masked feature takes that constant.
- a callable ``(row (F,), keep (B, F) bool, training_data (N, F) or None) -> (B, F)``: DIANNA's custom strategy.

**Without background data** (``training_data=None``) a string ``mask_type`` cannot be followed: masked features
are set to **0** with a warning that the choice matters (a masked feature is then "this feature is 0", which for
unstandardised data can be far outside its range). Pass a number as ``mask_type`` to choose the constant (no
warning), or background rows.

The map has one score per feature, ``(F,)`` for one reference and ``(K, F)`` for K references; ``feature_names_``
names them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_finite_array, warn
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import DistanceLike
from dianna_distance.masks import BackgroundRows, TabularMasks, WordMasks, root_seed
from dianna_distance.model import load_model
from dianna_distance.readers import read_table_csv

TabularModelLike = str | Path | Callable[[np.ndarray], np.ndarray]
#: A callable ``mask_type``: ``(row (F,), keep (B, F) bool, training_data (N, F) or None) -> (B, F)``.
MaskFunction = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
MASK_TYPES = ("sample", "most_frequent", "mean")
#: The default ``p_keep`` of tables: a mask hides about one feature in ten, so a score is the feature's effect with
#: the row's other values mostly in place (measured best on the wine network and a planted table, docs/parameters.md).
TABLE_P_KEEP = 0.9
#: What ``mask_pairs="auto"`` means for tables: pairs that differ in one feature (measured best on the planted table
#: and the wine network, docs/performance.md).
TABLE_MASK_PAIRS = "flip"


@dataclass
class _Row:
    """A row checked for masking, and what masked features are filled with."""

    values: np.ndarray  # (F,) float32
    fill: np.ndarray | None  # (F,) float32 for a fixed fill; None for sampled rows or a callable
    background: np.ndarray | None  # (N, F) float32
    seed: np.random.SeedSequence
    rows: TabularMasks | BackgroundRows | None = field(default=None, repr=False)  # the rows' source ("sample")


def most_frequent(values: np.ndarray) -> np.ndarray:
    """Each column's most frequent value, the smallest of tied values (as scikit-learn's ``SimpleImputer``)."""
    values = np.asarray(values)
    modes = np.empty(values.shape[1], dtype=values.dtype)
    for column in range(values.shape[1]):
        unique, counts = np.unique(values[:, column], return_counts=True)
        modes[column] = unique[np.argmax(counts)]  # np.unique sorts: argmax takes the smallest of tied values
    return modes


def background_fill(mask_type: str | float, background: np.ndarray | None, categorical: Sequence[int],
                    n_features: int) -> np.ndarray:
    """The ``(F,)`` values masked (or deleted) features take for a fixed ``mask_type``.

    Args:
        mask_type: ``"most_frequent"`` (each column's most frequent value), ``"mean"`` (the column mean; the most
            frequent category for categorical features) or a number (that constant).
        background: Background rows ``(N, F)`` (checked), needed for the strings.
        categorical: Indices of the categorical features.
        n_features: F.

    Returns:
        Float64 ``(F,)``.
    """
    if not isinstance(mask_type, str):
        return np.full(n_features, float(mask_type))
    if background is None:
        raise ValueError(f"mask_type {mask_type!r} needs background rows (training_data)")
    if mask_type == "most_frequent":
        return most_frequent(background).astype(np.float64)
    if mask_type != "mean":
        raise ValueError(f"a fixed fill must be 'most_frequent', 'mean' or a number, got {mask_type!r}")
    fill = background.mean(axis=0)
    if len(categorical):
        fill[list(categorical)] = most_frequent(background[:, list(categorical)])
    return fill


def check_training_data(training_data: object, n_features: int | None = None) -> np.ndarray:
    """Background rows ``(N, F)`` as float64: finite, at least two rows, ``F`` columns when ``n_features`` is given."""
    background = check_finite_array(training_data, "training_data")
    if background.ndim != 2:
        raise ValueError(f"training_data must be background rows (N, F), got shape {background.shape}")
    if background.shape[0] < 2:
        raise ValueError(f"training_data must hold at least 2 background rows to take masked values from, got "
                         f"{background.shape[0]}: one row would fill every masked feature with the same values")
    if n_features is not None and background.shape[1] != n_features:
        raise ValueError(f"the row has {n_features} features, but training_data has {background.shape[1]} columns: "
                         "they must match")
    return background.astype(np.float64)


def check_float32_rows(values: np.ndarray, name: str, feature_names: Sequence[str] | None = None,
                       first_row: int = 0) -> None:
    """Refuse rows holding a value beyond float32's range (models take float32 rows), naming the row and feature.

    Args:
        values: ``(F,)`` one row or ``(N, F)`` rows.
        name: What the rows are (``"row"``, ``"training_data"``), for messages.
        feature_names: The features' names (default: their indices).
        first_row: The number of the first row, for messages (0: the first row after the header).

    Raises:
        ValueError: A finite value whose magnitude exceeds float32's largest, naming the first such row and feature.
    """
    rows = np.atleast_2d(np.asarray(values, dtype=np.float64))
    beyond = np.isfinite(rows) & (np.abs(rows) > np.finfo(np.float32).max)
    if beyond.any():
        row, column = (int(index) for index in np.argwhere(beyond)[0])
        feature = repr(feature_names[column]) if feature_names is not None else str(column)
        where = f"{name} row {first_row + row}" if np.ndim(values) == 2 else name
        raise ValueError(f"{where}, feature {feature} holds {rows[row, column]:g}, beyond the largest float32 "
                         f"({np.finfo(np.float32).max:g}) that the model takes: rescale that feature (e.g. other "
                         "units) in every row")


def check_categorical_features(categorical_features: object, n_features: int) -> list[int]:
    """Indices of the categorical features, each in ``[0, n_features)``, no repeats."""
    if categorical_features is None:
        return []
    if isinstance(categorical_features, (str, bytes)) or not isinstance(categorical_features, Sequence | np.ndarray):
        raise TypeError(f"categorical_features must be a list of feature indices or None, got "
                        f"{categorical_features!r}")
    indices = []
    for index in categorical_features:
        if not isinstance(index, numbers.Integral) or isinstance(index, (bool, np.bool_)):
            raise TypeError(f"categorical_features must hold int feature indices, got {index!r}")
        if not 0 <= int(index) < n_features:
            raise ValueError(f"categorical_features holds index {index}, out of range for {n_features} features "
                             f"(0 to {n_features - 1})")
        indices.append(int(index))
    if len(set(indices)) != len(indices):
        raise ValueError(f"categorical_features holds an index twice: {indices}")
    return indices


class TabularDistanceExplainer(MaskedDistanceExplainer):
    """Explain why a table row's embedding is close to, or far from, a reference embedding: a score per feature.

    The row is masked ``n_masks`` times (each feature kept with probability ``p_keep``; a masked feature takes a
    background value, see the module docstring); every masked row is embedded by the model and ranked by its
    distance to the reference; by default the scores are the least-squares effects of keeping each feature on the
    distance (``weighting="regression"``), else the rank-weighted sum of the masks (:class:`MaskedDistanceExplainer`).
    A positive score marks a feature whose value brings the row closer to the reference; negative, one that
    pushes it away.

    Parameters are stored as given and checked when :meth:`attribute` runs.

    Args:
        training_data: Background rows ``(N, F)`` (``N >= 2``) that masked features take values from; None:
            masked features are set to 0 (or to ``mask_type`` when it is a number) with a warning.
        feature_names: Names of the F features, for outputs and figures; default ``"feature 0"``, ...
        categorical_features: Indices of the categorical features (DIANNA's parameter): a masked categorical
            feature takes a background row's category (``"sample"``) or the most frequent one, never a mean.
        mask_type: ``"mean"`` (default), ``"sample"``, ``"most_frequent"``, a number, or a callable; see the
            module docstring (``"sample"`` was the earlier default).
        n_masks: Number of masks (model evaluations).
        p_keep: Probability that a feature is kept, in (0, 1]; default :data:`TABLE_P_KEEP` (0.9: about one feature
            in ten masked, so each score is the feature's effect with the row's other values mostly in place, the
            question occlusion and LIME ask; 0.5, the earlier default, averages over rows half filled).
        mask_selection_range_min, mask_selection_range_max: As for :class:`MaskedDistanceExplainer`.
        mask_selection_negative_range_min, mask_selection_negative_range_max: As for the core class.
        weighting: ``"regression"`` (default for tables: every mask enters; a feature's score is how much the
            distance falls when the feature keeps its value rather than the fill, in distance units; see
            :mod:`dianna_distance.regression`), or the rank weightings of the core class (``"ranges"``, the
            paper's, the earlier default).
        batch_size, distance, random_state, progress, tolerance, max_masks: As for the core class.
        mask_pairs: ``"auto"`` (default: ``"flip"``), None (independent masks), ``"complement"`` or ``"flip"``:
            masks in pairs, the second the first with one feature flipped (kept becomes masked, or the reverse),
            each feature in turn, or the first's complement (see the core class). With ``"flip"`` a feature's
            regression score is the mean change of the distance when that feature alone is masked (or kept) in the
            random contexts of the pairs, and a feature the model ignores scores exactly 0 (chosen by measurement,
            docs/performance.md).
        masks: Masks to use instead of drawn ones, ``(n_masks, F)`` in [0, 1].
        providers: ONNX Runtime execution providers when the model is an ONNX file.
        embedding_output: For an ONNX file: the name of an inner tensor of its graph to use as the embedding
            (:func:`~dianna_distance.layers.list_embedding_outputs` lists them); None: the graph's first output.
        embedding_pooling: How ``embedding_output`` becomes one vector per row (see
            :func:`~dianna_distance.model.load_model`; a table model's tensors are usually ``(B, D)`` already).

    Attributes:
        feature_names_: The F feature names of the last run.
        fill_: ``(F,)`` the values masked features took in the last run (``"most_frequent"``, ``"mean"``, a
            constant), or None (``"sample"``, a callable).
        background_rows_: With ``"sample"``: the background row index of each mask of the last run, ``(n_masks,)``
            (-1 for masks not embedded by this process); else None.
        masks_: ``(n_masks, F)`` boolean masks of the last run (True: the feature is kept).
        map_: The scores, ``(F,)`` or ``(K, F)``; ``standard_error_`` and ``significant_`` have the same shape,
            and the other results (``embeddings_``, ``distances_``, ``weights_``, ...) are as for
            :class:`MaskedDistanceExplainer`.

    Example:
        >>> explainer = TabularDistanceExplainer(training_data=X, n_masks=1000, random_state=0)
        >>> scores = explainer.attribute(model, X[0], model(X[5:6])[0])  # doctest: +SKIP
    """

    _input_noun = "rows"
    feature_names_: list[str]
    fill_: np.ndarray | None
    background_rows_: np.ndarray | None

    def __init__(
        self,
        training_data: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
        categorical_features: Sequence[int] | None = None,
        mask_type: str | float | MaskFunction = "mean",
        n_masks: int = 1000,
        p_keep: float = TABLE_P_KEEP,
        mask_selection_range_min: float = 0.0,
        mask_selection_range_max: float = 0.1,
        mask_selection_negative_range_min: float = 0.9,
        mask_selection_negative_range_max: float = 1.0,
        weighting: str = "regression",
        batch_size: int | None = None,
        distance: DistanceLike = "cosine",
        random_state: int | np.random.Generator | None = None,
        masks: np.ndarray | None = None,
        progress: bool = True,
        providers: Sequence[str] | None = None,
        tolerance: float | None = None,
        max_masks: int = 10_000,
        mask_pairs: str | None = "auto",
        embedding_output: str | None = None,
        embedding_pooling: str = "auto",
    ) -> None:
        self._store_shared_parameters(locals())
        self.training_data = training_data
        self.feature_names = feature_names
        self.categorical_features = categorical_features
        self.mask_type = mask_type
        self.providers = providers
        self.embedding_output = embedding_output
        self.embedding_pooling = embedding_pooling

    def attribute(self, model: TabularModelLike, row: np.ndarray, embedded_reference: np.ndarray) -> np.ndarray:
        """Score every feature of ``row`` by how much it brings the row's embedding closer to the reference.

        Args:
            model: A callable ``(B, F) -> (B, D)`` or the path of an ONNX file taking ``(B, F)`` float rows.
            row: The row to explain, ``(F,)``.
            embedded_reference: ``(D,)``, or ``(K, D)`` for K references explained in one pass of the model.

        Returns:
            Scores ``(F,)`` for a ``(D,)`` reference, ``(K, F)`` for ``(K, D)``; ``feature_names_`` names them.
        """
        return super().attribute(model, row, embedded_reference)

    def load_model(self, model: TabularModelLike) -> Callable:
        """The model as a callable ``(B, F) -> (B, D)``: an ONNX file in one ONNX Runtime session, or the callable."""
        return load_model(model, providers=self.providers, embedding_output=self.embedding_output,
                          embedding_pooling=self.embedding_pooling)

    # -- the table modality ---------------------------------------------------------------------------------------

    def _validate_modality(self) -> None:
        mask_type = self.mask_type
        if isinstance(mask_type, str):
            if mask_type not in MASK_TYPES:
                raise ValueError(f"mask_type must be one of {MASK_TYPES}, a number or a callable, got {mask_type!r}")
        elif isinstance(mask_type, numbers.Real) and not isinstance(mask_type, bool):
            if not np.isfinite(mask_type):
                raise ValueError(f"mask_type must be a finite number when it is a constant fill, got {mask_type!r}")
        elif not callable(mask_type):
            raise TypeError(f"mask_type must be one of {MASK_TYPES}, a number or a callable "
                            f"(row, keep, training_data) -> (B, F), got {mask_type!r}")
        if self.embedding_output is not None and (not isinstance(self.embedding_output, str)
                                                  or not self.embedding_output):
            raise TypeError(f"embedding_output must be None or a tensor name (str), got {self.embedding_output!r}")

    def _prepare_input(self, row: np.ndarray) -> _Row:
        values = check_finite_array(row, "row")
        if values.ndim != 1 or values.shape[0] == 0:
            raise ValueError(f"row must be one table row (F,) with at least one feature, got shape {values.shape}")
        n_features = values.shape[0]
        self.feature_names_ = self._names(n_features)
        check_float32_rows(values, "row", self.feature_names_)
        categorical = check_categorical_features(self.categorical_features, n_features)
        background = None
        if self.training_data is not None:
            background = check_training_data(self.training_data, n_features)
            check_float32_rows(background, "training_data", self.feature_names_)
        seed = root_seed(self.random_state)
        fill, rows = None, None
        self.background_rows_ = None
        if isinstance(self.mask_type, str) and background is None:
            warn("no training_data: masked features are set to 0, and the explanation depends on that choice (a "
                 "masked feature means 'this feature is 0'); give background rows as training_data, or a number as "
                 "mask_type", stacklevel=4)
            fill = np.zeros(n_features)
        elif self.mask_type == "sample" and background is not None:  # (without background: the branch above)
            rows = BackgroundRows(len(background), 2**62, seed, self._pairing())
        elif not callable(self.mask_type):
            fill = background_fill(self.mask_type, background, categorical, n_features)
        self.fill_ = None if fill is None else fill.copy()
        return _Row(values.astype(np.float32), None if fill is None else fill.astype(np.float32),
                    None if background is None else background.astype(np.float32), seed, rows)

    def _auto_pairing(self) -> str | None:
        """``mask_pairs="auto"``: :data:`TABLE_MASK_PAIRS`."""
        return TABLE_MASK_PAIRS

    def _names(self, n_features: int) -> list[str]:
        if self.feature_names is None:
            return [f"feature {index}" for index in range(n_features)]
        if isinstance(self.feature_names, (str, bytes)) or not isinstance(self.feature_names, Sequence | np.ndarray):
            raise TypeError(f"feature_names must be a list of {n_features} names or None, got {self.feature_names!r}")
        names = [str(name) for name in self.feature_names]
        if len(names) != n_features:
            raise ValueError(f"feature_names has {len(names)} names, but the row has {n_features} features")
        return names

    def _draw_masks(self, prepared: _Row, n_masks: int) -> WordMasks:
        if prepared.rows is None or prepared.background is None:  # rows come with background rows
            return WordMasks(len(prepared.values), n_masks, self.p_keep, prepared.seed, self._pairing())
        self.background_rows_ = np.full(n_masks, -1, dtype=np.int64)
        prepared.rows = TabularMasks(len(prepared.values), n_masks, self.p_keep, len(prepared.background),
                                     prepared.seed, self._pairing())  # its rows are drawn with its masks
        return prepared.rows

    def _feature_shape(self, prepared: _Row) -> tuple[int]:
        return (len(prepared.values),)

    def _input_size(self, prepared: _Row) -> int:
        return len(prepared.values)

    def _masked_batch(self, prepared: _Row, masks: np.ndarray) -> np.ndarray:
        return self._masked_batch_at(prepared, masks, 0)

    def _masked_batch_at(self, prepared: _Row, masks: np.ndarray, first: int) -> np.ndarray:
        masks = np.asarray(masks)
        if masks.dtype != bool and np.any((masks != 0) & (masks != 1)):
            raise ValueError("masks must hold 0 or 1 for a table: a feature is kept or takes a background value")
        keep = masks.astype(bool, copy=False)
        if prepared.rows is not None and prepared.background is not None:  # rows come with background rows
            indices = np.arange(first, first + len(keep))
            rows = prepared.rows
            drawn = rows.rows(indices) if isinstance(rows, TabularMasks) else rows[indices]
            self._record_rows(first, drawn)
            return np.where(keep, prepared.values, prepared.background[drawn])
        if prepared.fill is not None:
            return np.where(keep, prepared.values, prepared.fill)
        mask_function = self.mask_type
        assert callable(mask_function), "_prepare_input gives rows or a fill for every mask_type but a callable"
        masked = check_finite_array(mask_function(prepared.values.copy(), keep, prepared.background),
                                    "the output of mask_type (a callable)")
        if masked.shape != keep.shape:
            raise ValueError(f"mask_type (a callable) must return the masked rows {keep.shape}, got shape "
                             f"{masked.shape}")
        return masked

    def _record_rows(self, first: int, drawn: np.ndarray) -> None:
        """Keep the background rows drawn (``background_rows_``, -1 for masks this process did not embed)."""
        stop = first + len(drawn)
        if self.background_rows_ is None or len(self.background_rows_) < stop:
            grown = np.full(stop, -1, dtype=np.int64)
            if self.background_rows_ is not None:
                grown[: len(self.background_rows_)] = self.background_rows_
            self.background_rows_ = grown
        self.background_rows_[first:stop] = drawn


def read_csv_table(path: str | Path, name: str) -> tuple[list[str], np.ndarray]:
    """Read a table of numbers from a ``.csv`` file whose first line is a header of column names.

    The reader is :func:`dianna_distance.readers.read_table_csv` (this name is kept for existing callers).

    Args:
        path: The file.
        name: What the table is (``"rows"``, ``"training data"``), for messages.

    Returns:
        The column names and the values ``(N, F)`` as float64 (a cell ``nan`` is read as NaN and refused where a
        row is explained).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: The file cannot be read.
        ValueError: No header, no rows, a row with another number of cells, or a cell that is not a number (the
            message names the file, the line and the column).
    """
    return read_table_csv(path, name)
