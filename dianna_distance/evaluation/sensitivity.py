"""Average sensitivity (robustness): how much does the map change when the input gets a little noise?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import (
    check_bool,
    check_finite_array,
    check_int,
    check_positive,
    check_random_state,
    check_value_range,
)
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.evaluation.common import (
    ExplainFunction,
    RandomState,
    check_explainer,
    check_map,
    clone_explainer,
    explain_with_fixed_masks,
)
from dianna_distance.model import ModelLike

SENSITIVITY_DENOMINATORS = ("explanation", "input", None)
PERTURBATIONS = ("gaussian", "uniform")


@dataclass
class SensitivityResult:
    """Average sensitivity of an explanation, as returned by :class:`AverageSensitivity`.

    Attributes:
        score: Mean of ``values``; 0 when the map does not change under the noise.
        values: ``(nr_samples,)`` sensitivity of each noisy sample.
        attribution: The map of the unperturbed image, ``(H, W)`` (or ``(K, H, W)``).
        perturbed_attributions: ``(nr_samples, *attribution.shape)`` maps of the noisy images.
        perturbed_images: ``(nr_samples, *image.shape)`` the noisy images (clipped when ``clip``).
    """

    score: float
    values: np.ndarray
    attribution: np.ndarray
    perturbed_attributions: np.ndarray
    perturbed_images: np.ndarray


class AverageSensitivity:
    """Average sensitivity (Yeh et al. 2019; Bhatt et al. 2020): how much the map changes under input noise.

    The image is perturbed ``nr_samples`` times, clipped to the valid range when ``clip``, and explained again with
    the masks of the unperturbed run, so only the input varies. The noise (``perturbation``) is

    * ``"gaussian"``: normal with standard deviation ``perturb_std × (high - low)`` (``value_range = (low, high)``),
      the perturbation the paper (Meijer & Bos 2025) describes: 10% of the range;
    * ``"uniform"``: uniform in ``[-lower_bound, lower_bound]``, in the units of the image, as Quantus'
      ``uniform_noise``, the default perturbation of Quantus' ``AvgSensitivity`` (``lower_bound=0.2``). The paper's
      own notebooks called ``AvgSensitivity`` without ``perturb_func``, so this is what produced its numbers, on
      Keras "caffe"-preprocessed images (values on the 0-255 scale): with an image in [0, 1],
      ``lower_bound=0.2 / 255`` adds the same noise relative to the pixel range. Quantus does not clip: pass
      ``clip=False`` to reproduce it exactly.

    With ``a`` the map of the image and ``a_s`` that of noisy sample ``s`` (both divided by their maximum absolute
    value when ``normalise``), each sample scores ``||a - a_s||_F / ||a||_F`` (``denominator="explanation"``, as
    Quantus's ``AvgSensitivity``), ``||a - a_s||_F / ||x||_F`` (``"input"``) or ``||a - a_s||_F`` (``None``); the
    score is the mean. Lower is more robust.

    Args:
        nr_samples: Number of noisy samples.
        perturb_std: Gaussian noise standard deviation as a fraction of the value range (``"gaussian"`` only).
        value_range: ``(low, high)`` valid pixel values.
        clip: Clip noisy images to ``value_range``.
        normalise: Divide every map by its maximum absolute value before comparing.
        denominator: ``"explanation"``, ``"input"`` or None (see above).
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose parameters are used (its ``progress`` is
            ignored). Default: ``DistanceExplainer()``. Its masks are its own (``masks``, or drawn with its
            ``random_state``), or drawn from this metric's ``random_state`` when both are None.
        explain_func: Instead of an explainer, any callable ``(model, image, reference) -> map``.
        random_state: Seed or generator for the noise (and masks, see ``explainer``).
        progress: Show a progress bar.
        perturbation: ``"gaussian"`` or ``"uniform"`` (see above).
        lower_bound: Half-width of the uniform noise, in the units of the image (``"uniform"`` only).
    """

    def __init__(
        self,
        nr_samples: int = 20,
        perturb_std: float = 0.1,
        value_range: tuple[float, float] = (0.0, 1.0),
        clip: bool = True,
        normalise: bool = False,
        denominator: str | None = "explanation",
        explainer: MaskedDistanceExplainer | None = None,
        explain_func: ExplainFunction | None = None,
        random_state: RandomState = None,
        progress: bool = True,
        perturbation: str = "gaussian",
        lower_bound: float = 0.2,
    ) -> None:
        self.nr_samples = nr_samples
        self.perturb_std = perturb_std
        self.value_range = value_range
        self.clip = clip
        self.normalise = normalise
        self.denominator = denominator
        self.explainer = explainer
        self.explain_func = explain_func
        self.random_state = random_state
        self.progress = progress
        self.perturbation = perturbation
        self.lower_bound = lower_bound

    def __call__(self, model: ModelLike, image: np.ndarray, reference: np.ndarray) -> SensitivityResult:
        """Explain the image and ``nr_samples`` noisy copies of it, and compare the maps.

        Args:
            model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``), held fixed.

        Returns:
            A :class:`SensitivityResult`.
        """
        self._validate_parameters()
        image = check_finite_array(image, "image")
        mask_rng, noise_rng = np.random.default_rng(self.random_state).spawn(2)
        if self.explain_func is not None:
            explain = self.explain_func
            attribution = check_map(explain(model, image, reference), "explain_func's map")
        else:
            model = clone_explainer(self.explainer).load_model(model)
            attribution, fixed = explain_with_fixed_masks(self.explainer, model, image, reference, mask_rng)
            explain = fixed.attribute
        low, high = self.value_range
        perturbed_images = np.empty((self.nr_samples, *image.shape), dtype=np.result_type(image.dtype, np.float32))
        perturbed_attributions = np.empty((self.nr_samples, *attribution.shape))
        for sample in tqdm(range(self.nr_samples), desc="Sensitivity", unit="sample", disable=not self.progress):
            if self.perturbation == "gaussian":
                noise = noise_rng.normal(0.0, self.perturb_std * (high - low), size=image.shape)
            else:
                noise = noise_rng.uniform(-self.lower_bound, self.lower_bound, size=image.shape)
            noisy = image + noise
            perturbed_images[sample] = np.clip(noisy, low, high) if self.clip else noisy
            perturbed_attributions[sample] = check_map(explain(model, perturbed_images[sample], reference),
                                                       f"explain_func's map of noisy sample {sample}",
                                                       attribution.shape)
        values = sensitivity_values(attribution, perturbed_attributions, image, self.normalise, self.denominator)
        return SensitivityResult(score=float(values.mean()), values=values, attribution=attribution,
                                 perturbed_attributions=perturbed_attributions, perturbed_images=perturbed_images)

    def _validate_parameters(self) -> None:
        check_int(self.nr_samples, "nr_samples", minimum=1)
        if self.perturbation not in PERTURBATIONS:
            raise ValueError(f"perturbation must be one of {PERTURBATIONS}, got {self.perturbation!r}")
        check_positive(self.perturb_std, "perturb_std")
        check_positive(self.lower_bound, "lower_bound")
        check_value_range(self.value_range)
        check_bool(self.clip, "clip")
        check_bool(self.normalise, "normalise")
        if self.denominator not in SENSITIVITY_DENOMINATORS:
            raise ValueError(f"denominator must be one of {SENSITIVITY_DENOMINATORS}, got {self.denominator!r}")
        check_explainer(self.explainer, self.explain_func)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")


def sensitivity_values(
    attribution: np.ndarray, perturbed_attributions: np.ndarray, image: np.ndarray, normalise: bool = False,
    denominator: str | None = "explanation",
) -> np.ndarray:
    """Per-sample sensitivity of maps of noisy images relative to the map of the image.

    Args:
        attribution: Map of the image, any shape ``A``.
        perturbed_attributions: ``(S, *A)`` maps of ``S`` noisy images.
        image: The unperturbed image (used when ``denominator="input"``).
        normalise: Divide every map by its maximum absolute value first.
        denominator: ``"explanation"`` (``||a||_F``), ``"input"`` (``||image||_F``) or None (1).

    Returns:
        ``(S,)`` values ``||a - a_s||_F / denominator``.
    """
    def scaled(maps: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        peak = np.max(np.abs(maps), axis=axes, keepdims=True)
        return maps / np.where(peak == 0, 1.0, peak) if normalise else maps

    attribution = check_finite_array(attribution, "attribution").astype(np.float64)
    perturbed = check_finite_array(perturbed_attributions, "perturbed_attributions").astype(np.float64)
    if perturbed.shape[1:] != attribution.shape:
        raise ValueError(f"perturbed_attributions must have shape (S, *{attribution.shape}), got {perturbed.shape}")
    reference_map = scaled(attribution, tuple(range(attribution.ndim)))
    perturbed = scaled(perturbed, tuple(range(1, perturbed.ndim)))
    numerators = np.linalg.norm((perturbed - reference_map).reshape(len(perturbed), -1), axis=1)
    if denominator is None:
        return numerators
    norm = np.linalg.norm(reference_map if denominator == "explanation" else np.asarray(image, dtype=np.float64))
    if norm == 0:
        if np.all(numerators == 0):  # nothing changed: zero sensitivity, whatever the scale
            return numerators
        raise ValueError(f"sensitivity relative to the {denominator} is undefined: its norm is 0 "
                         f"(use denominator=None)")
    return numerators / norm


def average_sensitivity(model: ModelLike, image: np.ndarray, reference: np.ndarray, **parameters: Any
                        ) -> SensitivityResult:
    """Run :class:`AverageSensitivity` once.

    Args:
        model: Path to an ONNX file, or a callable ``(B, *image.shape) -> (B, D)``.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`AverageSensitivity` (``nr_samples``, ``perturb_std``, ``explainer``, ...).

    Returns:
        A :class:`SensitivityResult`.
    """
    return AverageSensitivity(**parameters)(model, image, reference)
