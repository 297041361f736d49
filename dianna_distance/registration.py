"""DIANNA registration: ``explain_image_distance``, ``explain_text_distance``, ``explain_tabular_distance``.

``dianna.explain_tabular(model, row, method="distance", labels=None, embedded_reference=ref, training_data=X)``
works too (the module is also ``dianna.methods.distance_tabular``, its class ``DISTANCETabular``).


Both ``dianna.explain_image(..., method="distance")`` and ``dianna.explain_text(..., method="distance")`` work.

DIANNA finds an explainer by importing ``dianna.methods.<method>_<modality>`` and taking its class
``<METHOD><Modality>``. :func:`register` makes this module importable under the names
``dianna.methods.distance_image`` and ``dianna.methods.distance_text`` (DIANNA's files are not touched) and adds
:func:`explain_image_distance` and :func:`explain_text_distance` to the ``dianna`` namespace.
``import dianna_distance`` calls it.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import numpy as np

from dianna_distance.image import DistanceExplainer
from dianna_distance.model import ModelLike
from dianna_distance.tabular import TabularDistanceExplainer, TabularModelLike
from dianna_distance.text import TextDistanceExplainer, TextModelLike, TokenizerLike, to_explanation
from dianna_distance.timeseries import TimeSeriesDistanceExplainer

METHOD_MODULE = "dianna.methods.distance_image"
TEXT_METHOD_MODULE = "dianna.methods.distance_text"
TABULAR_METHOD_MODULE = "dianna.methods.distance_tabular"
TIMESERIES_METHOD_MODULE = "dianna.methods.distance_timeseries"


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
        reference = _check_distance_arguments(labels, embedded_reference)
        return self.attribute(model_or_function, input_image, reference)


def explain_image_distance(
    model_or_function: ModelLike, input_image: np.ndarray, embedded_reference: np.ndarray, **kwargs: Any
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
    _check_kwargs(kwargs, DistanceExplainer)
    return DistanceExplainer(**kwargs).attribute(model_or_function, input_image, embedded_reference)


class DISTANCEText(TextDistanceExplainer):
    """The text Distance Explainer under DIANNA's naming convention (``method="distance"``, text modality)."""

    def explain(
        self,
        model_or_function: TextModelLike,
        input_text: str,
        labels: None = None,
        tokenizer: TokenizerLike = None,
        embedded_reference: np.ndarray | None = None,
    ) -> list[list[tuple[str, int, float]]]:
        """Explain a text's distance to a reference embedding (DIANNA's ``explain`` signature).

        Args:
            model_or_function: A callable ``list[str] -> (B, D)`` or a sentence-embedding ONNX file; see
                :meth:`TextDistanceExplainer.attribute`.
            input_text: The text.
            labels: Must be None: distance explanations have no class labels.
            tokenizer: The words' tokenizer (see :class:`TextDistanceExplainer`); when given, it becomes this
                explainer's ``tokenizer``. DIANNA passes its ``tokenizer`` argument here.
            embedded_reference: ``(D,)`` or ``(K, D)``.

        Returns:
            Per reference (one for a ``(D,)`` reference) a list of ``(word, word index, score)``, as DIANNA's
            RISE returns one list per label.
        """
        reference = _check_distance_arguments(labels, embedded_reference)
        if tokenizer is not None:
            self.tokenizer = tokenizer
        scores = self.attribute(model_or_function, input_text, reference)
        return to_explanation(self.words_, scores)


def explain_text_distance(
    model_or_function: TextModelLike,
    input_text: str,
    embedded_reference: np.ndarray,
    tokenizer: TokenizerLike = None,
    **kwargs: Any,
) -> list[list[tuple[str, int, float]]]:
    """Explain which words make a text close to or far from a reference embedding.

    Args:
        model_or_function: A callable ``list[str] -> (B, D)``, or a sentence-embedding ONNX file (then
            ``tokenizer`` is its ``tokenizer.json``).
        input_text: The text (at least two words).
        embedded_reference: ``(D,)``, or ``(K, D)`` for K references in one pass.
        tokenizer: None (words split on whitespace), a ``tokenizer.json`` path or ``tokenizers.Tokenizer``, or a
            DIANNA-style tokenizer.
        **kwargs: Parameters of :class:`~dianna_distance.text.TextDistanceExplainer`.

    Returns:
        Per reference a list of ``(word, word index, score)``.

    Raises:
        TypeError: For keyword arguments that are not parameters of the explainer, as DIANNA's ``explain_*``.
    """
    _check_kwargs(kwargs, TextDistanceExplainer)
    explainer = TextDistanceExplainer(tokenizer=tokenizer, **kwargs)
    scores = explainer.attribute(model_or_function, input_text, embedded_reference)
    return to_explanation(explainer.words_, scores)


class DISTANCETabular(TabularDistanceExplainer):
    """The table Distance Explainer under DIANNA's naming convention (``method="distance"``, tabular modality)."""

    def explain(
        self,
        model_or_function: TabularModelLike,
        input_tabular: np.ndarray,
        labels: None = None,
        embedded_reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Explain a table row's distance to a reference embedding (DIANNA's ``explain`` signature).

        Args:
            model_or_function: A callable ``(B, F) -> (B, D)`` or an ONNX file; see
                :meth:`TabularDistanceExplainer.attribute`.
            input_tabular: The row ``(F,)``.
            labels: Must be None: distance explanations have no class labels.
            embedded_reference: ``(D,)`` or ``(K, D)``.

        Returns:
            Scores ``(F,)``, or ``(K, F)`` for ``(K, D)`` references (``feature_names_`` names the features).
        """
        reference = _check_distance_arguments(labels, embedded_reference)
        return self.attribute(model_or_function, input_tabular, reference)


def explain_tabular_distance(
    model_or_function: TabularModelLike, input_tabular: np.ndarray, embedded_reference: np.ndarray, **kwargs: Any
) -> np.ndarray:
    """Explain which features make a table row close to or far from a reference embedding.

    Args:
        model_or_function: A callable ``(B, F) -> (B, D)`` or the path of an ONNX file taking rows ``(B, F)``.
        input_tabular: The row ``(F,)``.
        embedded_reference: ``(D,)``, or ``(K, D)`` for K references in one pass.
        **kwargs: Parameters of :class:`~dianna_distance.tabular.TabularDistanceExplainer` (``training_data``,
            ``feature_names``, ``categorical_features``, ``mask_type``, ``n_masks``, ...).

    Returns:
        Scores ``(F,)``, or ``(K, F)``.

    Raises:
        TypeError: For keyword arguments that are not parameters of the explainer, as DIANNA's ``explain_*``.
    """
    _check_kwargs(kwargs, TabularDistanceExplainer)
    return TabularDistanceExplainer(**kwargs).attribute(model_or_function, input_tabular, embedded_reference)


class DISTANCETimeseries(TimeSeriesDistanceExplainer):
    """The time-series Distance Explainer under DIANNA's naming convention (``method="distance"``)."""

    def explain(
        self,
        model_or_function: ModelLike,
        input_timeseries: np.ndarray,
        labels: None = None,
        embedded_reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Explain a series' distance to a reference embedding (DIANNA's ``explain`` signature).

        Args:
            model_or_function: Path to an ONNX file or a callable ``(B, T, C) -> (B, D)``; see
                :meth:`TimeSeriesDistanceExplainer.attribute`.
            input_timeseries: ``(T, C)``, as DIANNA's time-series methods take it.
            labels: Must be None: distance explanations have no class labels.
            embedded_reference: ``(D,)`` or ``(K, D)``.

        Returns:
            Map ``(T, C)``, or ``(K, T, C)`` for ``(K, D)`` references.
        """
        reference = _check_distance_arguments(labels, embedded_reference)
        return self.attribute(model_or_function, input_timeseries, reference)


def explain_timeseries_distance(
    model_or_function: ModelLike, input_timeseries: np.ndarray, embedded_reference: np.ndarray, **kwargs: Any
) -> np.ndarray:
    """Explain why a time series is close to or far from a reference embedding.

    Args:
        model_or_function: Path to an ONNX file or a callable mapping a batch ``(B, T, C)`` to embeddings
            ``(B, D)``.
        input_timeseries: ``(T, C)``: time steps, channels.
        embedded_reference: ``(D,)``, or ``(K, D)`` for K references in one pass.
        **kwargs: Parameters of :class:`~dianna_distance.TimeSeriesDistanceExplainer`.

    Returns:
        Map ``(T, C)``, or ``(K, T, C)``.

    Raises:
        TypeError: For keyword arguments that are not parameters of the explainer, as DIANNA's ``explain_*``.
    """
    _check_kwargs(kwargs, TimeSeriesDistanceExplainer)
    return TimeSeriesDistanceExplainer(**kwargs).attribute(model_or_function, input_timeseries, embedded_reference)


def _check_distance_arguments(labels: object, embedded_reference: np.ndarray | None) -> np.ndarray:
    """The reference, checked to be given (and ``labels`` to be None)."""
    if labels is not None:
        raise ValueError("labels must be None for method='distance': the explanation is of a distance to "
                         "embedded_reference, not of class labels")
    if embedded_reference is None:
        raise TypeError("method='distance' needs the keyword argument embedded_reference (an array (D,) or "
                        "(K, D))")
    return embedded_reference


def register() -> None:
    """Make the Distance Explainer available through DIANNA's entry points."""
    import dianna
    import dianna.methods

    module = sys.modules[__name__]
    sys.modules.setdefault(METHOD_MODULE, module)
    dianna.methods.distance_image = sys.modules[METHOD_MODULE]
    dianna.explain_image_distance = explain_image_distance
    sys.modules.setdefault(TEXT_METHOD_MODULE, module)
    dianna.methods.distance_text = sys.modules[TEXT_METHOD_MODULE]
    dianna.explain_text_distance = explain_text_distance
    sys.modules.setdefault(TABULAR_METHOD_MODULE, module)
    dianna.methods.distance_tabular = sys.modules[TABULAR_METHOD_MODULE]
    dianna.explain_tabular_distance = explain_tabular_distance
    sys.modules.setdefault(TIMESERIES_METHOD_MODULE, module)
    dianna.methods.distance_timeseries = sys.modules[TIMESERIES_METHOD_MODULE]
    dianna.explain_timeseries_distance = explain_timeseries_distance


def _check_kwargs(kwargs: dict, explainer_class: type) -> None:
    """Keyword arguments that are not parameters of the explainer are a TypeError, as in DIANNA's ``explain_*``."""
    unknown = set(kwargs) - set(inspect.signature(explainer_class).parameters)
    if unknown:
        raise TypeError(f"Error due to following unused kwargs: {dict((k, kwargs[k]) for k in sorted(unknown))}")
