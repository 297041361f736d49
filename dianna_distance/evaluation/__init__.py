"""Evaluating distance explanations: faithfulness, robustness, randomisation and convergence.

Four metrics, as used to judge the Distance Explainer in Meijer & Bos (2025), written for the distance task
(an embedding model and a reference embedding rather than a classifier and a label). Each metric is a class
whose parameters are given up front and whose ``__call__`` returns a small dataclass of arrays, in the style of
Quantus; a function of the same name in lower case runs it in one line:

* :class:`IncrementalDeletion` / :func:`incremental_deletion` (faithfulness): delete pixels or superpixels in
  order of attribution (most positive first, "LoDF"; most negative first, "HiDF") and at random, and follow
  the distance to the reference.
* :class:`AverageSensitivity` / :func:`average_sensitivity` (robustness): how much the map changes when the input
  gets a little Gaussian (or, as Quantus' default, uniform) noise, with the masks held fixed.
* :class:`ModelParameterRandomisation` / :func:`model_parameter_randomisation` (randomisation, MPRT): shuffle the
  weights of an ONNX model layer by layer and compare the maps with the original (Spearman rank correlation).
* :class:`SeedSpread` / :func:`seed_spread` (convergence): the mean per-pixel standard deviation of maps across
  random seeds, for several numbers of masks.

For texts, :class:`WordDeletion` / :func:`word_deletion` deletes words in order of their scores (most positive
first, most negative first, and at random), and :class:`SeedSpread` takes a
:class:`~dianna_distance.text.TextDistanceExplainer` as its ``explainer`` (the spread is then per word). For
table rows, :class:`FeatureDeletion` / :func:`feature_deletion` replaces features by background values in the same
orders (:mod:`~dianna_distance.evaluation.features`). For time series, :class:`TimeSeriesDeletion` /
:func:`timeseries_deletion` deletes segments of the series in order of their scores
(:mod:`~dianna_distance.evaluation.timeseries`).

One module per metric family: :mod:`~dianna_distance.evaluation.deletion`,
:mod:`~dianna_distance.evaluation.sensitivity`, :mod:`~dianna_distance.evaluation.randomisation`,
:mod:`~dianna_distance.evaluation.seeds` and :mod:`~dianna_distance.evaluation.words`. For choosing the number of
masks automatically, :func:`estimate_pixel_spread` estimates from a single run how much a map would vary between
seeds, and :func:`embed_until_converged` adds batches of masks until that estimate falls below a tolerance; both live in
:mod:`dianna_distance.convergence` and are re-exported here.

Plots of the results are drawn by :func:`dianna_distance.visualization.plot_incremental_deletion`,
:func:`~dianna_distance.visualization.plot_randomisation`, :func:`~dianna_distance.visualization.plot_seed_spread`
and :func:`~dianna_distance.visualization.plot_word_deletion`;
:func:`randomisation_table` formats the MPRT correlations as text.
"""

from dianna_distance.convergence import (
    ConvergenceResult,
    embed_until_converged,
    estimate_map_spread,
    estimate_pixel_spread,
)
from dianna_distance.evaluation.deletion import BASELINES, DeletionResult, IncrementalDeletion, incremental_deletion
from dianna_distance.evaluation.features import FeatureDeletion, FeatureDeletionResult, feature_deletion
from dianna_distance.evaluation.randomisation import (
    MPRT_MODES,
    ModelParameterRandomisation,
    RandomisationResult,
    model_parameter_randomisation,
    randomisable_layers,
    randomisation_table,
    spearman_correlation,
)
from dianna_distance.evaluation.seeds import SeedSpread, SeedSpreadResult, seed_spread
from dianna_distance.evaluation.sensitivity import (
    PERTURBATIONS,
    SENSITIVITY_DENOMINATORS,
    AverageSensitivity,
    SensitivityResult,
    average_sensitivity,
    sensitivity_values,
)
from dianna_distance.evaluation.timeseries import TimeSeriesDeletion, TimeSeriesDeletionResult, timeseries_deletion
from dianna_distance.evaluation.words import WordDeletion, WordDeletionResult, word_deletion

__all__ = [
    "BASELINES",
    "MPRT_MODES",
    "PERTURBATIONS",
    "SENSITIVITY_DENOMINATORS",
    "AverageSensitivity",
    "ConvergenceResult",
    "DeletionResult",
    "FeatureDeletion",
    "FeatureDeletionResult",
    "IncrementalDeletion",
    "ModelParameterRandomisation",
    "RandomisationResult",
    "SeedSpread",
    "SeedSpreadResult",
    "SensitivityResult",
    "TimeSeriesDeletion",
    "TimeSeriesDeletionResult",
    "WordDeletion",
    "WordDeletionResult",
    "average_sensitivity",
    "embed_until_converged",
    "estimate_map_spread",
    "estimate_pixel_spread",
    "feature_deletion",
    "incremental_deletion",
    "model_parameter_randomisation",
    "randomisable_layers",
    "randomisation_table",
    "seed_spread",
    "sensitivity_values",
    "spearman_correlation",
    "timeseries_deletion",
    "word_deletion",
]
