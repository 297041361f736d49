"""dianna-distance: explain distances in embedded spaces with the Distance Explainer, as a DIANNA plugin.

``import dianna_distance`` registers the method with DIANNA, so that both
``dianna.explain_image_distance(model, image, embedded_reference)`` and
``dianna.explain_image(model, image, method="distance", labels=None, embedded_reference=...)`` work, and for texts
``dianna.explain_text_distance(model, text, embedded_reference, tokenizer)`` and
``dianna.explain_text(model, text, tokenizer, method="distance", labels=None, embedded_reference=...)``, for table
rows ``dianna.explain_tabular(model, row, method="distance", labels=None, embedded_reference=...,
training_data=X)``, and for time series ``(T, C)`` ``dianna.explain_timeseries_distance(model, series,
embedded_reference)`` and ``dianna.explain_timeseries(model, series, method="distance", labels=None,
embedded_reference=...)``.
"""

from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import cosine_distance, euclidean_distance, rank_weights
from dianna_distance.image import DistanceExplainer
from dianna_distance.masks import RiseMasks, generate_masks
from dianna_distance.pairs import PairDistanceExplainer
from dianna_distance.registration import (
    explain_image_distance,
    explain_tabular_distance,
    explain_text_distance,
    explain_timeseries_distance,
    register,
)
from dianna_distance.tabular import TabularDistanceExplainer
from dianna_distance.text import TextDistanceExplainer, split_words
from dianna_distance.timeseries import TimeSeriesDistanceExplainer
from dianna_distance.visualization import TextHighlight, plot_distance_map, plot_text_distance

__version__ = "0.1.0"

__all__ = [
    "DistanceExplainer",
    "MaskedDistanceExplainer",
    "PairDistanceExplainer",
    "RiseMasks",
    "TabularDistanceExplainer",
    "TextDistanceExplainer",
    "TextHighlight",
    "TimeSeriesDistanceExplainer",
    "cosine_distance",
    "euclidean_distance",
    "explain_image_distance",
    "explain_tabular_distance",
    "explain_text_distance",
    "explain_timeseries_distance",
    "generate_masks",
    "plot_distance_map",
    "plot_text_distance",
    "rank_weights",
    "split_words",
]

register()
