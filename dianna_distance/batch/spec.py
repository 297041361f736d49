"""How a run explains: its model and its explainer parameters, checked before anything runs.

The model is a :class:`~dianna_distance.batch.jobs.ModelSpec` (defined with the jobs, which name it).

The parameters recorded in a run's manifest are :func:`configuration_parameters`: every parameter of the explainer
with its default filled in, numbers in one canonical form (``20.0`` is ``20``), and without the parameters that
cannot change a map (``batch_size``), so that a run that differs only in how it was written down resumes.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import replace
from pathlib import Path

from dianna_distance.batch.jobs import JOB_KINDS, ModelSpec

#: Explainer parameters the engine sets itself from the model, the job or its own options.
ENGINE_PARAMETERS = ("axis_labels", "preprocess_function", "masks", "progress", "providers")
#: Explainer parameters that change how fast a map is made, not the map; left out of a run's configuration.
UNRECORDED_PARAMETERS = ("batch_size",)
#: Explainer parameters that choose the model's output. They go into the run's
#: :class:`~dianna_distance.batch.jobs.ModelSpec` (see :func:`with_embedding_output`), and are recorded only when
#: given, so that earlier runs keep their configuration.
LAYER_PARAMETERS = {"embedding_output": None, "embedding_pooling": "auto"}
#: Explainer parameters a job kind gained after its runs were first recorded, with the value earlier runs used:
#: recorded only when a run's value differs from it, so that earlier runs keep their configuration (and resume).
LATER_PARAMETERS: dict[str, dict[str, object]] = {"image": {"mask_kinds": "grid"}}


def with_embedding_output(spec: ModelSpec, parameters: dict) -> ModelSpec:
    """The spec with the run's ``embedding_output`` and ``embedding_pooling`` explainer parameters."""
    return replace(spec, embedding_output=parameters.get("embedding_output"),  # the defaults of LAYER_PARAMETERS
                   embedding_pooling=parameters.get("embedding_pooling", "auto"))


def model_free_parameters(spec: ModelSpec, parameters: dict) -> dict:
    """The explainer parameters without those of :data:`LAYER_PARAMETERS`, which the spec's model applies.

    Raises:
        ValueError: They differ from the spec's (the spec was not made by :func:`with_embedding_output`).
    """
    for name, default in LAYER_PARAMETERS.items():
        if parameters.get(name, default) != getattr(spec, name):
            raise ValueError(f"{name}={parameters.get(name, default)!r} is not applied by this run's model (its "
                             f"model spec has {name}={getattr(spec, name)!r}); explain_many applies it")
    return {name: value for name, value in parameters.items() if name not in LAYER_PARAMETERS}


def make_model_spec(
    model: str | Path, preset: str | None, mask_on: str | None, pixel_max: float | None,
    providers: str | list[str] | None, text_model: str | Path | None, tokenizer: str | Path | None, captions: bool,
) -> ModelSpec:
    """Check the run's model options and make its :class:`~dianna_distance.batch.jobs.ModelSpec` (fetches files).

    Options that cannot apply are refused: ``pixel_max`` with a preset (the preset sets the scale), ``mask_on``
    without one, and ``text_model`` / ``tokenizer`` when no job has a caption.

    Args:
        model: ONNX file; with ``preset``, also a registry name or the preset's name.
        preset: Preset name or None.
        mask_on: ``"pixels"`` or ``"normalized"`` (with a preset), or None for ``"pixels"``.
        pixel_max: Value of a white pixel (without a preset), or None for 1.0.
        providers: ONNX Runtime execution providers.
        text_model: CLIP text-tower ONNX file, for caption jobs.
        tokenizer: Its ``tokenizer.json``, for caption jobs.
        captions: Whether any job has captions.
    """
    if not isinstance(model, (str, Path)):
        raise TypeError(f"model must be the path of an ONNX file (str or Path), got {type(model).__name__}")
    if preset is not None and pixel_max is not None:
        raise ValueError("pixel_max does not apply with a preset: the preset's normalisation sets the scale of the "
                         "pixels; leave pixel_max out")
    if preset is None and mask_on is not None:
        raise ValueError("mask_on applies only with a preset (it chooses between masking pixels before or after "
                         "the preset's normalisation); leave mask_on out")
    if not captions:
        for name, value in (("text_model", text_model), ("tokenizer", tokenizer)):
            if value is not None:
                raise ValueError(f"{name} applies only to jobs with a caption, and no job has one; leave {name} out")
    mask_on = "pixels" if mask_on is None else mask_on
    pixel_given, pixel_max = pixel_max is not None, 1.0 if pixel_max is None else pixel_max
    if mask_on not in ("pixels", "normalized"):
        raise ValueError(f"mask_on must be 'pixels' or 'normalized', got {mask_on!r}")
    if (not isinstance(pixel_max, (int, float)) or isinstance(pixel_max, bool) or not math.isfinite(pixel_max)
            or not pixel_max > 0):
        raise ValueError(f"pixel_max must be a positive number, got {pixel_max!r}")
    if isinstance(providers, str):
        providers = [providers]
    if providers is not None and (not isinstance(providers, (list, tuple))
                                  or not all(isinstance(provider, str) for provider in providers)):
        raise TypeError(f"providers must be a str, a list of str or None, got {providers!r}")
    if preset is not None:
        from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, PRESETS, exported_model_file, fetch, prefetch

        if not isinstance(preset, str) or preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)} or None, got {preset!r}")
        local = isinstance(model, Path) or Path(model).is_file()  # a local file named like a preset is the file
        if not local and str(model) == preset and preset in EXPORTED_PRESETS:  # the preset's own name: its file,
            model = exported_model_file(EXPORTED_PRESETS[preset])  # as load_image_encoder finds it
        elif not local and str(model) == preset and preset in PRESET_FILES:
            model = PRESET_FILES[preset]
        towers = {"text_model=": text_model or "clip-text", "tokenizer=": tokenizer or "clip-tokenizer"}
        prefetch({"model=": model, **(towers if captions else {})})  # one error names every file to download
        model = fetch(model)
    elif captions:
        raise ValueError("caption references need a preset (preset='clip')")
    if not Path(model).is_file():
        raise FileNotFoundError(f"model: ONNX file {str(model)!r} does not exist")
    if preset is None and pixel_given and _states_preprocessing(model):
        raise ValueError(f"pixel_max does not apply to model {str(model)!r}: the file states its preprocessing "
                         "(it was exported by dianna-distance), which sets the scale of the pixels; leave pixel_max "
                         "out")
    text_path: str | None = None
    tokenizer_path: str | None = None
    if captions:
        from dianna_distance.models import fetch

        text_file, tokenizer_file = fetch(text_model or "clip-text"), fetch(tokenizer or "clip-tokenizer")
        for name, path in (("text_model", text_file), ("tokenizer", tokenizer_file)):
            if not Path(path).is_file():
                raise FileNotFoundError(f"{name}: file {str(path)!r} does not exist")
        text_path, tokenizer_path = _resolve(text_file), _resolve(tokenizer_file)
    return ModelSpec(_resolve(model), preset, mask_on, float(pixel_max), tuple(providers) if providers else None,
                     text_path, tokenizer_path)


def _resolve(path: str | Path) -> str:
    return str(Path(path).resolve())


def _signatures(kinds: set[str]) -> dict[str, inspect.Parameter]:
    accepted: dict[str, inspect.Parameter] = {}
    for kind in sorted(kinds):
        accepted.update(inspect.signature(JOB_KINDS[kind].explainer_class).parameters)
    return accepted


def check_parameters(parameters: dict, kinds: set[str]) -> dict:
    """Check explainer parameters given to a run; return them sorted, in the types the explainer takes.

    A float with an integral value for a parameter whose default is an int (``n_masks=20.0``) becomes that int.
    A ``training_data`` path is resolved once, here, from the current folder (the run records the absolute path;
    its contents are part of each table-row job's key, :class:`~dianna_distance.batch.manifest.JobKeys`).

    Raises:
        ValueError: A parameter the engine sets itself, a number that is not finite, or a value the explainer
            refuses (for example ``n_masks=0``), named.
        TypeError: An unknown parameter, or a value that is not a number, a string or None.
    """
    for name, value in parameters.items():
        if name in ENGINE_PARAMETERS:
            raise ValueError(f"{name} is set by explain_many itself (from the model, the preset or its own "
                             "options); leave it out")
        if not (value is None or isinstance(value, (bool, int, float, str))):
            raise TypeError(f"explainer parameter {name} must be a number, a string or None (so that the run can "
                            f"be hashed and resumed), got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"explainer parameter {name} must be finite, got {value!r}")
    for kind in kinds:
        accepted = inspect.signature(JOB_KINDS[kind].explainer_class).parameters
        unknown = sorted(set(parameters) - set(accepted))
        if unknown:
            raise TypeError(f"unknown explainer parameter(s) {unknown} for {JOB_KINDS[kind].explainer_class.__name__}")
    signatures = _signatures(kinds)
    checked = {}
    for name, value in sorted(parameters.items()):
        default = signatures[name].default
        integral_default = isinstance(default, int) and not isinstance(default, bool)
        if integral_default and isinstance(value, float) and value.is_integer():
            value = int(value)
        checked[name] = value
    for kind in kinds:  # ranges, types and combinations, as the explainer checks them, before anything is written
        explainer_class = JOB_KINDS[kind].explainer_class
        accepted = inspect.signature(explainer_class).parameters
        explainer_class(**{name: value for name, value in checked.items() if name in accepted}).check_parameters()
    if isinstance(checked.get("training_data"), (str, Path)):  # resolved once, here; recorded so
        checked["training_data"] = _resolve(checked["training_data"])
    return checked


_NOT_LATER = object()


def _unchanged_later_parameter(name: str, parameters: dict, kinds: set[str]) -> bool:
    """Whether ``name`` is a :data:`LATER_PARAMETERS` entry of every kind that takes it, at its earlier value."""
    takers = [kind for kind in kinds if name in inspect.signature(JOB_KINDS[kind].explainer_class).parameters]
    earlier = [LATER_PARAMETERS.get(kind, {}).get(name, _NOT_LATER) for kind in takers]
    if not takers or any(value is _NOT_LATER for value in earlier) or len({repr(value) for value in earlier}) > 1:
        return False
    value = parameters.get(name, earlier[0])
    return isinstance(value, str) and value == earlier[0]


def configuration_parameters(parameters: dict, kinds: set[str]) -> dict:
    """The parameters a run records: every explainer parameter with its default filled in, in canonical form.

    Left out: the engine's own parameters and :data:`UNRECORDED_PARAMETERS`. Numbers with an integral value are
    ints (``0.5`` stays ``0.5``, ``20.0`` is ``20``), so that one run written in two ways has one configuration.
    """
    recorded = {}
    for name, parameter in _signatures(kinds).items():
        if name in ENGINE_PARAMETERS or name in UNRECORDED_PARAMETERS or parameter.kind in (
                parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in LAYER_PARAMETERS and parameters.get(name, LAYER_PARAMETERS[name]) == LAYER_PARAMETERS[name]:
            continue
        if _unchanged_later_parameter(name, parameters, kinds):
            continue
        if name in parameters:
            recorded[name] = parameters[name]
        elif parameter.default is not parameter.empty:
            recorded[name] = parameter.default
    return {name: _canonical(value) for name, value in sorted(recorded.items())}


def _canonical(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)  # a default that is not JSON (none today): recorded by its repr


def _states_preprocessing(model: str | Path) -> bool:
    """Whether an ONNX file states its preprocessing in its metadata (a file exported by this package)."""
    import onnx

    from dianna_distance.model import PREPROCESSING_KEY

    try:
        metadata = onnx.load(str(model), load_external_data=False).metadata_props
    except Exception:  # not an ONNX file: loading the model reports it, naming the file
        return False
    return any(entry.key == PREPROCESSING_KEY for entry in metadata)
