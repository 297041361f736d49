"""The image modality's former module name, kept for compatibility: use :mod:`dianna_distance.image`.

``from dianna_distance.explainer import DistanceExplainer`` keeps working; the names are those of
:mod:`dianna_distance.image`.
"""

from dianna_distance.image import AxisLabels, DistanceExplainer, check_image_fits_model

__all__ = ["AxisLabels", "DistanceExplainer", "check_image_fits_model"]
