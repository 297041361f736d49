"""dianna-distance: explain distances in embedded spaces with the Distance Explainer, as a DIANNA plugin.

``import dianna_distance`` registers the method with DIANNA, so that both
``dianna.explain_image_distance(model, image, embedded_reference)`` and
``dianna.explain_image(model, image, method="distance", labels=None, embedded_reference=...)`` work.
"""

from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.distances import cosine_distance, euclidean_distance, rank_weights
from dianna_distance.explainer import DistanceExplainer
from dianna_distance.masks import RiseMasks, generate_masks
from dianna_distance.registration import explain_image_distance, register
from dianna_distance.visualization import plot_distance_map

__version__ = "0.1.0"

__all__ = [
    "DistanceExplainer",
    "MaskedDistanceExplainer",
    "RiseMasks",
    "cosine_distance",
    "euclidean_distance",
    "explain_image_distance",
    "generate_masks",
    "plot_distance_map",
    "rank_weights",
]

register()
