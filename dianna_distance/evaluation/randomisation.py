"""Model parameter randomisation (MPRT): does the map depend on the model's weights?"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from dianna_distance.checks import check_bool, check_random_state
from dianna_distance.core import MaskedDistanceExplainer
from dianna_distance.evaluation.common import (
    ExplainFunction,
    RandomState,
    check_explainer,
    check_map,
    explain_with_fixed_masks,
)
from dianna_distance.files import check_input_file

if TYPE_CHECKING:
    from onnx import ModelProto

MPRT_MODES = ("top_down", "bottom_up", "independent")


def _save_onnx(model: ModelProto, path: str) -> None:
    with open(path, "wb") as file:
        file.write(model.SerializeToString())


def _load_onnx(onnx_model: object) -> ModelProto:
    import onnx

    if isinstance(onnx_model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(onnx_model)
        return copy
    if isinstance(onnx_model, (str, Path)):
        check_input_file(onnx_model, "onnx_model")
        try:
            return onnx.load(str(onnx_model))
        except Exception as error:  # protobuf's DecodeError and others, for a file that is not an ONNX model
            raise ValueError(f"onnx_model: {str(onnx_model)!r} is not a valid ONNX model "
                             f"({type(error).__name__}: {error})") from error
    raise TypeError(f"onnx_model must be a path to an ONNX file or an onnx.ModelProto, got "
                    f"{type(onnx_model).__name__}")


def randomisable_layers(onnx_model: str | Path | ModelProto) -> dict[str, tuple[str, ...]]:
    """The layers of an ONNX graph whose weights the MPRT shuffles, from input to output.

    A layer is a node (in the graph's topological order) that takes floating-point initializers with more than
    one value; an initializer used by several nodes belongs to the first. Integer initializers (shapes, indices)
    and scalars are left alone.

    Args:
        onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.

    Returns:
        Dict ``{layer name: names of its initializers}`` in graph order; a node without a name is called
        ``"<op_type>_<node index>"``.
    """
    from onnx import TensorProto

    graph = _load_onnx(onnx_model).graph
    floating = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    candidates = {init.name for init in graph.initializer
                  if init.data_type in floating and int(np.prod(init.dims, dtype=np.int64)) > 1}
    layers: dict[str, tuple[str, ...]] = {}
    claimed: set[str] = set()
    for index, node in enumerate(graph.node):
        weights = tuple(name for name in dict.fromkeys(node.input) if name in candidates and name not in claimed)
        if weights:
            claimed.update(weights)
            layers[node.name or f"{node.op_type}_{index}"] = weights
    return layers


@dataclass
class RandomisationResult:
    """Maps of a model whose weights are shuffled layer by layer, as returned by ModelParameterRandomisation.

    Attributes:
        layer_names: Names of the shuffled layers, from input to output (see :func:`randomisable_layers`).
        original: The map of the unmodified model.
        steps: ``{mode: layer names in the order of the steps}``; ``"top_down"`` runs from output to input.
        correlations: ``{mode: (n_layers,)}`` Spearman rank correlation of each step's map with ``original``
            (NaN where a map is constant).
        maps: ``{mode: (n_layers, *original.shape)}`` the map after each step.
    """

    layer_names: tuple[str, ...]
    original: np.ndarray
    steps: dict[str, tuple[str, ...]]
    correlations: dict[str, np.ndarray]
    maps: dict[str, np.ndarray]


def spearman_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape, over all their values; NaN if one is constant."""
    from scipy.stats import spearmanr

    first, second = np.ravel(first), np.ravel(second)
    if np.all(first == first[0]) or np.all(second == second[0]):
        return float("nan")
    return float(spearmanr(first, second)[0])


class ModelParameterRandomisation:
    """Model parameter randomisation test (MPRT, Adebayo et al. 2018) for ONNX models.

    Every layer's weights are shuffled (the values of each of its floating-point initializers are permuted at
    random, so their distribution is kept), layer by layer, and the image is explained again with the same masks
    after every step. Modes: ``"top_down"`` cascading (from the output layer towards the input, cumulatively),
    ``"bottom_up"`` cascading (from the input towards the output, cumulatively) and ``"independent"`` (one layer
    at a time, the others original). A layer gets the same permutation in every mode. A map that depends on the
    model's weights should decorrelate from the original as layers are shuffled.

    Args:
        modes: Any of ``"top_down"``, ``"bottom_up"``, ``"independent"``.
        layers: Names of the layers to shuffle (default: all of :func:`randomisable_layers`), kept in graph order.
        explainer: A :class:`~dianna_distance.DistanceExplainer` whose parameters are used (its ``progress`` is
            ignored). Default: ``DistanceExplainer()``. Its masks are its own (``masks``, or drawn with its
            ``random_state``), or drawn from this metric's ``random_state`` when both are None.
        explain_func: Instead of an explainer, any callable ``(model path, image, reference) -> map``.
        random_state: Seed or generator for the permutations (and masks, see ``explainer``).
        progress: Show a progress bar.
    """

    def __init__(
        self,
        modes: Sequence[str] = MPRT_MODES,
        layers: Sequence[str] | None = None,
        explainer: MaskedDistanceExplainer | None = None,
        explain_func: ExplainFunction | None = None,
        random_state: RandomState = None,
        progress: bool = True,
    ) -> None:
        self.modes = modes
        self.layers = layers
        self.explainer = explainer
        self.explain_func = explain_func
        self.random_state = random_state
        self.progress = progress

    def __call__(self, onnx_model: str | Path | ModelProto, image: np.ndarray, reference: np.ndarray
                 ) -> RandomisationResult:
        """Explain with the original model and after every shuffling step of every mode.

        Args:
            onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.
            image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
            reference: Reference embedding ``(D,)`` (or ``(K, D)``).

        Returns:
            A :class:`RandomisationResult`.
        """
        from onnx import numpy_helper

        self._validate_parameters()
        model = _load_onnx(onnx_model)
        all_layers = randomisable_layers(model)
        if self.layers is not None:
            unknown = [name for name in self.layers if name not in all_layers]
            if unknown:
                raise ValueError(f"layers: {unknown} are not randomisable layers of the model; choose from "
                                 f"{list(all_layers)}")
        names = tuple(name for name in all_layers if self.layers is None or name in self.layers)
        if not names:
            raise ValueError("the model has no layers with floating-point weights to randomise")
        mask_rng, shuffle_rng = np.random.default_rng(self.random_state).spawn(2)
        initializers = {init.name: init for init in model.graph.initializer}
        originals = {name: numpy_helper.to_array(initializers[name]) for layer in names for name in all_layers[layer]}
        shuffled = {name: shuffle_rng.permutation(values.ravel()).reshape(values.shape)
                    for name, values in originals.items()}

        def set_layer(layer: str, source: dict[str, np.ndarray]) -> None:
            for name in all_layers[layer]:
                initializers[name].CopyFrom(numpy_helper.from_array(source[name], name))

        steps = {"top_down": names[::-1], "bottom_up": names, "independent": names}
        maps: dict[str, np.ndarray] = {}
        with tempfile.TemporaryDirectory(prefix="mprt-") as folder:
            path = str(Path(folder) / "model.onnx")
            _save_onnx(model, path)
            if self.explain_func is not None:
                explain = self.explain_func
                original = check_map(explain(path, image, reference), "explain_func's map")
            else:
                original, fixed = explain_with_fixed_masks(self.explainer, path, image,
                                                            reference, mask_rng)
                explain = fixed.attribute
            with tqdm(total=len(self.modes) * len(names), desc="Randomising", unit="map",
                      disable=not self.progress) as bar:
                for mode in self.modes:
                    mode_maps = []
                    for layer in steps[mode]:
                        set_layer(layer, shuffled)
                        _save_onnx(model, path)
                        mode_maps.append(check_map(explain(path, image, reference),
                                                   f"explain_func's map with layer {layer!r} shuffled ({mode})",
                                                   original.shape))
                        if mode == "independent":
                            set_layer(layer, originals)
                        bar.update()
                    for layer in names:
                        set_layer(layer, originals)
                    maps[mode] = np.stack(mode_maps)
        correlations = {mode: np.array([spearman_correlation(original, m) for m in maps[mode]]) for mode in maps}
        return RandomisationResult(layer_names=names, original=original,
                                   steps={mode: steps[mode] for mode in self.modes},
                                   correlations=correlations, maps=maps)

    def _validate_parameters(self) -> None:
        if isinstance(self.modes, str) or not isinstance(self.modes, Sequence) or not self.modes:
            raise TypeError(f"modes must be a non-empty sequence of mode names from {MPRT_MODES}, got {self.modes!r}")
        unknown = [mode for mode in self.modes if mode not in MPRT_MODES]
        if unknown or len(set(self.modes)) != len(self.modes):
            raise ValueError(f"modes must be distinct names from {MPRT_MODES}, got {list(self.modes)!r}")
        if self.layers is not None and (isinstance(self.layers, str) or not isinstance(self.layers, Sequence)):
            raise TypeError(f"layers must be a sequence of layer names or None, got {self.layers!r}")
        check_explainer(self.explainer, self.explain_func)
        check_random_state(self.random_state)
        check_bool(self.progress, "progress")


def model_parameter_randomisation(
    onnx_model: str | Path | ModelProto, image: np.ndarray, reference: np.ndarray, **parameters: Any
) -> RandomisationResult:
    """Run :class:`ModelParameterRandomisation` once.

    Args:
        onnx_model: Path to an ONNX file, or an :class:`onnx.ModelProto`.
        image: ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        reference: Reference embedding ``(D,)`` (or ``(K, D)``).
        **parameters: Parameters of :class:`ModelParameterRandomisation` (``modes``, ``layers``, ``explainer``, ...).

    Returns:
        A :class:`RandomisationResult`.
    """
    return ModelParameterRandomisation(**parameters)(onnx_model, image, reference)


def randomisation_table(result: RandomisationResult) -> str:
    """The MPRT correlations as a plain-text table: one row per layer (graph order), one column per mode.

    Args:
        result: A :class:`RandomisationResult`.

    Returns:
        The table, one line per row.
    """
    modes = list(result.correlations)
    width = max(len("layer"), *(len(name) for name in result.layer_names))
    lines = ["layer".ljust(width) + "".join(f"  {mode:>11}" for mode in modes)]
    for name in result.layer_names:
        cells = [result.correlations[mode][result.steps[mode].index(name)] for mode in modes]
        lines.append(name.ljust(width) + "".join(f"  {value:>11.3f}" for value in cells))
    return "\n".join(lines)
