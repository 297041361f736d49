"""DIANNA registration: ``dianna.explain_image_distance`` and ``dianna.explain_image(..., method="distance")``.

DIANNA finds an image explainer by importing ``dianna.methods.<method>_image`` and taking its class
``<METHOD>Image``. :func:`register` makes this module importable under the name
``dianna.methods.distance_image`` (DIANNA's files are not touched) and adds :func:`explain_image_distance` to the
``dianna`` namespace. ``import dianna_distance`` calls it.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from dianna_distance.explainer import DistanceExplainer
from dianna_distance.model import ModelLike

METHOD_MODULE = "dianna.methods.distance_image"


class DISTANCEImage(DistanceExplainer):
    """The Distance Explainer under DIANNA's naming convention (``method="distance"``, image modality)."""

    def explain(
        self,
        model_or_function: ModelLike,
        input_image: np.ndarray,
        labels: None = None,
        embedded_reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Explain an image's distance to a reference embedding (DIANNA's ``explain`` signature).

        Args:
            model_or_function: Path to an ONNX file or a callable; see :meth:`DistanceExplainer.attribute`.
            input_image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            labels: Must be None: distance explanations have no class labels.
            embedded_reference: ``(D,)`` or ``(K, D)``.

        Returns:
            Saliency map ``(H, W)``, or ``(K, H, W)`` for ``(K, D)`` references.
        """
        if labels is not None:
            raise ValueError("labels must be None for method='distance': the explanation is of a distance to "
                             "embedded_reference, not of class labels")
        if embedded_reference is None:
            raise TypeError("method='distance' needs the keyword argument embedded_reference (an array (D,) or "
                            "(K, D))")
        return self.attribute(model_or_function, input_image, embedded_reference)


def explain_image_distance(
    model_or_function: ModelLike, input_image: np.ndarray, embedded_reference: np.ndarray, **kwargs
) -> np.ndarray:
    """Explain why an image is close to or far from a reference embedding.

    Args:
        model_or_function: Path to an ONNX file or a callable mapping a batch ``(B, *input_image.shape)`` to
            embeddings ``(B, D)``.
        input_image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        embedded_reference: ``(D,)``, or ``(K, D)`` for K references in one pass.
        **kwargs: Parameters of :class:`~dianna_distance.DistanceExplainer`.

    Returns:
        Saliency map ``(H, W)``, or ``(K, H, W)``.

    Raises:
        TypeError: For keyword arguments that are not parameters of the explainer, as DIANNA's ``explain_*``.
    """
    unknown = set(kwargs) - set(inspect.signature(DistanceExplainer).parameters)
    if unknown:
        raise TypeError(f"Error due to following unused kwargs: {dict((k, kwargs[k]) for k in sorted(unknown))}")
    return DistanceExplainer(**kwargs).attribute(model_or_function, input_image, embedded_reference)


def register() -> None:
    """Make the Distance Explainer available through DIANNA's entry points."""
    import dianna
    import dianna.methods

    module = sys.modules[__name__]
    sys.modules.setdefault(METHOD_MODULE, module)
    dianna.methods.distance_image = sys.modules[METHOD_MODULE]
    dianna.explain_image_distance = explain_image_distance
