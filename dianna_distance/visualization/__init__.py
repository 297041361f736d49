"""Figures of distance explanations: maps over images, highlighted text, and the evaluation metrics.

* :mod:`~dianna_distance.visualization.images`: :func:`plot_distance_map`, one row per reference with the image,
  the reference and the map over a greyscale copy of the image;
* :mod:`~dianna_distance.visualization.text`: :func:`plot_text_distance` and :class:`TextHighlight`;
* :mod:`~dianna_distance.visualization.tabular`: :func:`plot_tabular_distance`, a table row's feature scores as bars
  with error bars, and :func:`plot_feature_deletion`;
* :mod:`~dianna_distance.visualization.timeseries`: :func:`plot_timeseries_distance`, one panel per channel, and
  :func:`plot_timeseries_deletion`;
* :mod:`~dianna_distance.visualization.evaluation`: :func:`plot_incremental_deletion`, :func:`plot_sensitivity`,
  :func:`plot_randomisation`, :func:`plot_seed_spread` and :func:`plot_word_deletion`;
* :mod:`~dianna_distance.visualization.pairs`: pair explanations: :func:`plot_image_caption` (the regions each
  word binds), :func:`plot_interaction_matrix` (a query x passage matrix) and :func:`plot_image_correspondence`;
* :mod:`~dianna_distance.visualization.common`: what they share, among which figures that display once in Jupyter.
"""

from dianna_distance.visualization.evaluation import (
    plot_incremental_deletion,
    plot_randomisation,
    plot_seed_spread,
    plot_sensitivity,
    plot_word_deletion,
)
from dianna_distance.visualization.images import plot_distance_map
from dianna_distance.visualization.pairs import (
    plot_image_caption,
    plot_image_correspondence,
    plot_interaction_matrix,
)
from dianna_distance.visualization.tabular import plot_feature_deletion, plot_tabular_distance
from dianna_distance.visualization.text import TextExplanation, TextHighlight, plot_text_distance
from dianna_distance.visualization.timeseries import plot_timeseries_deletion, plot_timeseries_distance

__all__ = [
    "TextExplanation",
    "TextHighlight",
    "plot_distance_map",
    "plot_feature_deletion",
    "plot_image_caption",
    "plot_image_correspondence",
    "plot_incremental_deletion",
    "plot_interaction_matrix",
    "plot_randomisation",
    "plot_seed_spread",
    "plot_sensitivity",
    "plot_tabular_distance",
    "plot_text_distance",
    "plot_timeseries_deletion",
    "plot_timeseries_distance",
    "plot_word_deletion",
]
