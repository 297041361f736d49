"""The ``layers`` subcommand: list the tensors of an ONNX graph that can serve as ``--embedding-output``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dianna_distance.layers import EmbeddingTensor, list_embedding_outputs
from dianna_distance.models import EXPORTED_PRESETS, PRESET_FILES, PRESETS
from dianna_distance.models.presets import PRESET_EMBEDDING_OUTPUTS

#: The mark of the layer ``--embedding-output preset`` takes.
PRESET_MARK = "<- --embedding-output preset"


def add_layers_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``layers`` subcommand."""
    layers = commands.add_parser("layers", help="list the tensors of an ONNX model that can serve as the embedding "
                                                "(--embedding-output), with their shapes, in graph order")
    names = sorted({*PRESET_FILES, *EXPORTED_PRESETS})
    layers.add_argument("model", help=f"ONNX file, or a preset's name ({', '.join(names)}): its file, exported or "
                                      "fetched as explain --preset does")
    layers.add_argument("--all", action="store_true",
                        help="also list the tensors that cannot serve, with the reason")
    layers.add_argument("--input-shape", type=_shape,
                        help="the shape of one input item without the batch axis, e.g. 3,224,224, for concrete "
                             "shapes where the file leaves axes free (default: the preset's size, else the file's "
                             "shape)")


def _shape(value: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in value.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be axis lengths separated by commas, e.g. 3,224,224, got {value!r}"
                                         ) from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"must be positive axis lengths, e.g. 3,224,224, got {value!r}")
    return shape


def format_layers(tensors: list[EmbeddingTensor], marked: str | None = None) -> list[str]:
    """One line per tensor: name, shape (batch axis ``batch``), operator, embedding size, and why it is refused.

    Args:
        tensors: The tensors.
        marked: The name of the tensor a preset takes as its embedding (``--embedding-output preset``), marked.
    """
    rows = [("name", "shape", "op", "embedding (auto)")]
    for tensor in tensors:
        shape = "unknown" if tensor.shape is None else "(" + ", ".join(str(d) for d in tensor.shape) + ")"
        size = tensor.pooled_size("auto") if tensor.usable else None
        embedding = "refused: " + str(tensor.reason) if not tensor.usable else "?" if size is None else str(size)
        if tensor.usable and size is None and tensor.shape is not None and len(tensor.shape) == 4 \
                and tensor.layout is None and all(isinstance(d, int) for d in tensor.shape[1:]):
            embedding = "layout unknown: use --embedding-pooling flatten"
        if tensor.usable and not tensor.batch_first:
            embedding += " (batch axis checked when it runs)"
        if tensor.name == marked:
            embedding += f"  {PRESET_MARK}"
        rows.append((tensor.name, shape, tensor.op_type, embedding))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return ["  ".join(value.ljust(width) for value, width in zip(row[:3], widths)) + "  " + row[3] for row in rows]


def resolve_model(model: str) -> tuple[Path, str | None]:
    """The ONNX file of ``layers MODEL`` and the preset it is: a preset's name gives its file (exported or fetched).

    A local file is used as it is; its preset is the one it states in its metadata (files this package exports
    state theirs), if any.
    """
    from dianna_distance.models import exported_model_file, fetch

    if not Path(model).exists() and model in EXPORTED_PRESETS:
        return exported_model_file(EXPORTED_PRESETS[model]), model
    if not Path(model).exists() and model in PRESET_FILES:
        return fetch(PRESET_FILES[model]), model
    return Path(model), _stated_preset(Path(model))


def _stated_preset(path: Path) -> str | None:
    """The preset an ONNX file states in its metadata (``dianna_distance.preprocessing``), or None."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # not a readable model: list_embedding_outputs says so, naming the file
        return None
    for entry in proto.metadata_props:
        if entry.key == "dianna_distance.preprocessing":
            try:
                preset = json.loads(entry.value).get("preset")
            except (ValueError, AttributeError):
                return None
            return preset if isinstance(preset, str) else None
    return None


def preset_input_shape(preset: str | None, path: Path) -> tuple[int, ...] | None:
    """The item shape a preset gives its model, ``(3, crop, crop)`` or channels last, where the file leaves it free."""
    if preset not in PRESETS:
        return None
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    initializers = {tensor.name for tensor in proto.graph.initializer}
    value = next(value for value in proto.graph.input if value.name not in initializers)
    dims = value.type.tensor_type.shape.dim
    if len(dims) != 4 or all(dim.HasField("dim_value") for dim in list(dims)[1:]):
        return None
    crop = PRESETS[preset].crop
    channels_last = dims[3].HasField("dim_value") and dims[3].dim_value == 3
    return (crop, crop, 3) if channels_last else (3, crop, crop)


def run_layers(args: argparse.Namespace) -> list:
    """Run the ``layers`` subcommand: print the table on stdout; nothing is written."""
    path, preset = resolve_model(args.model)
    input_shape = args.input_shape or preset_input_shape(preset, path)
    tensors = list_embedding_outputs(path, include_refused=args.all, input_shape=input_shape)
    marked = PRESET_EMBEDDING_OUTPUTS.get(preset) if preset else None
    for line in format_layers(tensors, marked):
        print(line.rstrip())
    notes = [f"{len(tensors)} tensors" + ("" if args.all else " (--all also lists those that cannot serve)")]
    if input_shape is not None:
        notes.append(f"shapes for items of shape {input_shape}")
    if marked is not None:
        notes.append(f"{preset}'s layer marked {PRESET_MARK!r}")
    print("; ".join(notes), file=sys.stderr)
    return []
