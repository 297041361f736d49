"""Pair explanations from files and model names: what ``explain-pair``, the pair batch runs and the dashboard share.

An item of a pair is given as a string: the path of an image file (a name ending in one of
``.png``, ``.jpg``, ... as ``visualization.images.IMAGE_SUFFIXES`` lists; it must exist), the path of a ``.txt`` file
(its text), or else the text itself. Each side's model is a name or an ONNX file (:data:`PAIR_MODELS`):

==========================  ===================================================================================
model                       image side / text side
==========================  ===================================================================================
``"conse"``                 ConSE: EfficientNet-Lite0's probabilities over MiniLM class names / MiniLM
                            (both in MiniLM's space; no download, :func:`~dianna_distance.models.load_conse`)
``"minilm"``                (no images) / all-MiniLM-L6-v2 (:func:`~dianna_distance.models.sentence.load_minilm`)
``"efficientnet-lite0"``    EfficientNet-Lite0's class probabilities / (no texts)
``"clip"``                  CLIP ViT-B/32's image tower / its text tower (downloaded once)
an ``.onnx`` file           an image model stating its preprocessing in its metadata (files written by
                            ``dianna-distance export`` do) / a sentence encoder with ``tokenizer_a`` / ``_b``
==========================  ===================================================================================

:func:`prepare_pair` reads both items and loads both models (one model named for both sides is loaded once);
:func:`pair_arrays` gives a run's results as named arrays (what the ``.npz`` file holds); :func:`save_pair_figure`
draws the figure that fits the two modalities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dianna_distance.files import check_input_file
from dianna_distance.pairs import PairDistanceExplainer
from dianna_distance.visualization.images import IMAGE_SUFFIXES

#: Model names a side accepts (besides an ONNX file).
PAIR_MODELS = ("conse", "minilm", "efficientnet-lite0", "clip")
#: The arrays :func:`pair_arrays` gives (the keys of an ``explain-pair`` ``.npz`` file).
PAIR_ARRAYS = ("map_a", "map_b", "standard_error_a", "standard_error_b", "significant_a", "significant_b",
               "interactions", "interactions_standard_error", "interactions_significant", "features_a",
               "features_b", "grid_a", "grid_b", "distances")


@dataclass
class PairSide:
    """One side made ready: the item to explain, its model, the options of its modality, and what to show.

    Attributes:
        item: The text, or the image as its model's ``prepare`` gives it.
        model: The side's model (a callable batch -> embeddings).
        options: ``options_a`` / ``options_b`` of the explainer (an image's ``preprocess_function`` and axes).
        shown: What a figure shows: the text, or the image's RGB pixels ``(S, S, 3)``.
        label: The item as given (a text, or the file's name).
    """

    item: Any
    model: Any
    options: dict = field(default_factory=dict)
    shown: Any = None
    label: str = ""

    @property
    def modality(self) -> str:
        """``"text"`` or ``"image"``."""
        return "text" if isinstance(self.item, str) else "image"


def read_item(value: object, name: str) -> tuple[str, str | Path]:
    """What a pair item given as a string is: ``("image", path)`` or ``("text", text)``.

    Raises:
        TypeError: ``value`` is not a str or a path.
        ValueError: An empty text.
        FileNotFoundError: A name ending like an image file, or a ``.txt`` file, that does not exist.
    """
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a text or the path of an image or .txt file (a str), got "
                        f"{type(value).__name__}")
    lowered = value.strip().lower()
    if lowered.endswith(IMAGE_SUFFIXES):
        return "image", check_input_file(value.strip(), name)
    if lowered.endswith(".txt"):
        text = check_input_file(value.strip(), name).read_text(encoding="utf-8")
    else:
        text = value
    if not text.strip():
        raise ValueError(f"{name} is an empty text: give a text, or the path of an image or .txt file")
    return "text", text.strip()


def check_model_name(model: object, name: str) -> str:
    """A side's model: one of :data:`PAIR_MODELS` or an existing ``.onnx`` file (checked before anything loads)."""
    if not isinstance(model, (str, Path)) or not str(model):
        raise TypeError(f"{name} must be one of {PAIR_MODELS} or an ONNX file path, got {model!r}")
    if str(model) in PAIR_MODELS and not Path(model).exists():
        return str(model)
    if not str(model).lower().endswith(".onnx"):
        raise ValueError(f"{name} must be one of {', '.join(PAIR_MODELS)} or an .onnx file, got {str(model)!r}")
    return str(check_input_file(model, name))


def check_fits(model: str, modality: str, name: str) -> None:
    """Refuse a model name that cannot embed a side's modality (before it loads)."""
    if model == "minilm" and modality == "image":
        raise ValueError(f"{name}='minilm' embeds texts, but its item is an image: use 'conse' (ConSE puts images "
                         "in MiniLM's space) or 'clip'")
    if model == "efficientnet-lite0" and modality == "text":
        raise ValueError(f"{name}='efficientnet-lite0' embeds images, but its item is a text: use 'conse' or "
                         "'clip' for an image and a text")


class ModelLoader:
    """Each side's model, loaded once per model name and modality (and kept for later pairs of a batch run).

    Args:
        tokenizers: The ``tokenizer.json`` of a sentence-encoder ONNX file of side A and of side B (or None).
        providers: ONNX Runtime execution providers.
    """

    def __init__(self, tokenizers: Sequence[str | Path | None], providers: Sequence[str] | None) -> None:
        self.tokenizers = tokenizers
        self.providers = list(providers) if providers else None
        self.loaded: dict[tuple[str, str], Any] = {}

    def get(self, model: str, modality: str, side: int) -> Any:
        """The model ``model`` for a side (0: A, 1: B) of ``modality``, loaded on first use."""
        key = (model, modality)
        if key not in self.loaded:
            self.loaded[key] = self._load(model, modality, side)
        return self.loaded[key]

    def _load(self, model: str, modality: str, side: int) -> Any:
        from dianna_distance.models import load_clip, load_conse, load_image_encoder
        from dianna_distance.models.sentence import load_minilm

        if model == "conse":
            if modality == "text":
                return load_minilm(providers=self.providers)
            return load_conse(providers=self.providers)[0]
        if model == "minilm":
            return load_minilm(providers=self.providers)
        if model == "efficientnet-lite0":
            return load_image_encoder("efficientnet-lite0", providers=self.providers)
        if model == "clip":
            return load_clip(providers=self.providers)[0 if modality == "image" else 1]
        if modality == "image":
            return load_image_encoder(None, model, providers=self.providers)
        from dianna_distance.sentence_model import SentenceEncoder

        tokenizer = self.tokenizers[side]
        if tokenizer is None:
            raise ValueError(f"tokenizer_{'ab'[side]} is needed: the tokenizer.json of the sentence encoder {model!r}")
        return SentenceEncoder(model, check_input_file(tokenizer, f"tokenizer_{'ab'[side]}"), pooling="mean",
                               normalize=True, providers=self.providers)


def check_pair(item_a: object, item_b: object, model_a: object, model_b: object
               ) -> tuple[tuple[str, str | Path], tuple[str, str | Path], str, str]:
    """Check both items and both model names, without loading anything: ``(read_a, read_b, model_a, model_b)``."""
    read_a, read_b = read_item(item_a, "item_a"), read_item(item_b, "item_b")
    name_a, name_b = check_model_name(model_a, "model_a"), check_model_name(model_b, "model_b")
    check_fits(name_a, read_a[0], "model_a")
    check_fits(name_b, read_b[0], "model_b")
    return read_a, read_b, name_a, name_b


def prepare_pair(item_a: object, item_b: object, model_a: object, model_b: object | None = None,
                 tokenizer_a: str | Path | None = None, tokenizer_b: str | Path | None = None,
                 providers: Sequence[str] | None = None, loader: ModelLoader | None = None
                 ) -> tuple[PairSide, PairSide]:
    """Read both items and load both models (see the module): the two :class:`PairSide`.

    Args:
        item_a: A text, or the path of an image or ``.txt`` file.
        item_b: The same for side B.
        model_a: One of :data:`PAIR_MODELS` or an ONNX file.
        model_b: The same for side B (default: ``model_a``).
        tokenizer_a: The ``tokenizer.json`` of a sentence-encoder ONNX file on side A.
        tokenizer_b: The same for side B.
        providers: ONNX Runtime execution providers.
        loader: Models loaded earlier (a batch run's); default: a new :class:`ModelLoader`.
    """
    model_b = model_a if model_b is None else model_b
    read_a, read_b, name_a, name_b = check_pair(item_a, item_b, model_a, model_b)
    loader = ModelLoader((tokenizer_a, tokenizer_b), providers) if loader is None else loader
    sides = []
    for index, ((modality, value), model) in enumerate(((read_a, name_a), (read_b, name_b))):
        encoder = loader.get(model, modality, index)
        if modality == "text":
            sides.append(PairSide(str(value), encoder, {}, str(value), str(value)))
            continue
        image, options = encoder.prepare(value)
        sides.append(PairSide(image, encoder, dict(options), encoder.load_image(value), Path(value).name))
    return sides[0], sides[1]


def run_pair(sides: tuple[PairSide, PairSide], **parameters: Any) -> PairDistanceExplainer:
    """Explain a prepared pair: a :class:`~dianna_distance.PairDistanceExplainer` after its run.

    Args:
        sides: From :func:`prepare_pair`.
        **parameters: Parameters of the explainer (``n_masks``, ``random_state``, ``feature_res_a``, ...).
    """
    side_a, side_b = sides
    explainer = PairDistanceExplainer(**parameters, options_a=side_a.options or None, options_b=side_b.options or None)
    explainer.attribute(side_a.model, side_a.item, side_b.model, side_b.item)
    return explainer


def pair_arrays(explainer: PairDistanceExplainer) -> dict[str, np.ndarray]:
    """A run's results as named arrays (:data:`PAIR_ARRAYS`); feature names as str arrays."""
    if not hasattr(explainer, "interactions_"):
        raise ValueError("explainer has no run: call its attribute() first")
    arrays = {name: np.asarray(getattr(explainer, name + "_")) for name in PAIR_ARRAYS
              if name not in ("features_a", "features_b", "grid_a", "grid_b")}
    arrays["features_a"] = np.array(explainer.features_a_, dtype=str)
    arrays["features_b"] = np.array(explainer.features_b_, dtype=str)
    arrays["grid_a"] = np.array(explainer.grid_a_, dtype=int)
    arrays["grid_b"] = np.array(explainer.grid_b_, dtype=int)
    return arrays


def pair_figure(explainer: PairDistanceExplainer, sides: tuple[PairSide, PairSide], title: str | None = None) -> Any:
    """The figure that fits the run's modalities: image-caption, image correspondence, or the interaction matrix."""
    from dianna_distance.visualization.pairs import (
        plot_image_caption,
        plot_image_correspondence,
        plot_interaction_matrix,
    )

    side_a, side_b = sides
    if side_a.modality == "image" and side_b.modality == "text":
        return plot_image_caption(explainer, side_a.shown)
    if side_a.modality == "image" and side_b.modality == "image":
        return plot_image_correspondence(explainer, side_a.shown, side_b.shown)
    return plot_interaction_matrix(explainer, title=title)


def save_pair_figure(path: Path, explainer: PairDistanceExplainer, sides: tuple[PairSide, PairSide],
                     title: str | None = None) -> None:
    """Draw :func:`pair_figure` into ``path`` (a PNG) and close it."""
    import matplotlib.pyplot as plt

    figure = pair_figure(explainer, sides, title)
    try:
        figure.savefig(path, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to ``path`` as an uncompressed ``.npz`` (the name as given, no suffix added)."""
    with open(path, "wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]
