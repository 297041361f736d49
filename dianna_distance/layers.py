"""Any inner tensor of an ONNX graph as the embedding: listing candidates, cutting the graph, pooling per item.

The graph is kept whole; the chosen tensor becomes its only output (so nothing after it needs to run), and ONNX
Runtime runs the graph as usual. Which tensors may serve is told by ONNX shape inference with a symbolic batch axis
``"batch"`` on every graph input: a tensor whose first axis is that batch axis is a candidate; one that carries the
batch axis elsewhere, or whose first axis has a fixed length that is not the batch's (a reshape across the batch,
a reduction over it), is refused with the reason. A tensor whose shape inference cannot tell is accepted and
checked at run time (its first axis must be the batch; :class:`EmbeddingCut` also compares, once, a batch of two
items with the items run one by one).

Pooling (``embedding_pooling``), per item:

* ``"auto"`` (default): a ``(B, D)`` tensor as it is; a spatial ``(B, C, H, W)`` or ``(B, H, W, C)`` tensor averaged
  over its spatial axes, ``(C,)`` (global average pooling, as classifiers do before their head); any other rank,
  for example a sequence ``(B, T, C)``, flattened (``T * C`` values, positions kept).
* ``"flatten"``: every value of the item, in C order.
* ``"mean"`` / ``"max"``: averaged / maximised over every axis but the batch and the channels axis.

The channels axis of a rank-3 or rank-4 tensor is read from the graph, never guessed: a tensor made by ONNX's
convolution-family operators (``Conv``, pooling, normalisation; through element-wise operators) is channels-first,
as ONNX lays them out; one made by a ``Transpose`` to channels-last (as tf2onnx graphs do), or by ``MatMul`` /
``LayerNormalization`` (token sequences ``(B, T, C)``), is channels-last. When the graph does not tell, pooling is
refused with a message (use ``"flatten"``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from dianna_distance.files import check_input_file

if TYPE_CHECKING:
    from onnx import ModelProto, ValueInfoProto

#: How an inner tensor becomes one vector per item (see :class:`EmbeddingCut`).
EMBEDDING_POOLINGS = ("auto", "flatten", "mean", "max")
#: A batch of items: an array, or a list (for example of a tokenizer's encodings).
Batch = TypeVar("Batch", np.ndarray, list[Any])

#: The symbolic batch axis as :func:`list_embedding_outputs` shows it.
BATCH = "batch"
_SYMBOL = "__dianna_distance_batch__"
_FLOAT_TYPES = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}
_CHANNELS_FIRST_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                       "LpPool", "GlobalLpPool", "BatchNormalization", "InstanceNormalization", "LRN",
                       "QLinearConv", "ConvInteger", "MaxRoiPool", "SpaceToDepth", "DepthToSpace"}
_CHANNELS_LAST_OPS = {"MatMul", "Gemm", "LayerNormalization", "Attention", "MultiHeadAttention",
                      "SkipLayerNormalization", "EmbedLayerNormalization"}
_ELEMENTWISE_OPS = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "LeakyRelu", "Elu", "Selu",
                    "PRelu", "Softplus", "Mish", "Gelu", "Erf", "Identity", "Dropout", "Cast", "Add", "Sub", "Mul",
                    "Div", "Sqrt", "Abs", "Neg", "Exp", "Log", "Pow", "Max", "Min", "Sum", "Mean",
                    "DequantizeLinear", "QuantizeLinear", "Pad"}


@dataclass(frozen=True)
class EmbeddingTensor:
    """A tensor of an ONNX graph as a candidate embedding.

    Attributes:
        name: The tensor's name in the graph.
        shape: Its shape from shape inference, the batch axis shown as ``"batch"`` (other symbolic axes by their
            name, unknown ones as ``"?"``); None when shape inference could not tell.
        dtype: Its element type (``"float32"``, ...).
        op_type: The operator that makes it.
        layout: ``"channels_first"``, ``"channels_last"`` or None (not a rank-3/4 tensor, or the graph does not
            tell), as read from the graph (see the module).
        reason: Why it cannot serve as an embedding, or None when it can.
    """

    name: str
    shape: tuple | None
    dtype: str
    op_type: str
    layout: str | None
    reason: str | None

    @property
    def usable(self) -> bool:
        """Whether the tensor can serve as an embedding."""
        return self.reason is None

    @property
    def batch_first(self) -> bool:
        """Whether shape inference shows the batch axis first.

        A usable tensor where it does not (a reshape with ``-1`` loses the batch axis's name) is checked when it runs.
        """
        return self.shape is not None and len(self.shape) > 0 and self.shape[0] == BATCH

    def pooled_size(self, pooling: str = "auto") -> int | None:
        """Length of the per-item embedding this tensor gives with ``pooling``; None when not known statically.

        None also where ``pooling`` needs the channels axis and the graph does not tell it (see the module).
        """
        if self.shape is None or not all(isinstance(d, int) for d in self.shape[1:]):
            return None
        try:
            axes = pooled_axes(len(self.shape), self.layout, pooling)
        except ValueError:  # the channels axis is unknown: pooling over the others cannot be told
            return None
        return int(np.prod([d for axis, d in enumerate(self.shape) if axis > 0 and axis not in axes]))


def _load(path: str | Path) -> ModelProto:
    import onnx

    path = check_input_file(path, "model")
    try:
        return onnx.load(str(path))
    except Exception as error:  # onnx raises several exception types for unreadable files
        raise ValueError(f"model: {str(path)!r} is not a valid ONNX model ({error})") from error


def _inputs(model: ModelProto) -> list[ValueInfoProto]:
    initializers = {tensor.name for tensor in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def _inferred_shapes(model: ModelProto, input_shape: tuple[int, ...] | None = None) -> tuple[dict, int | None]:
    """``{tensor: (elem_type, dims or None)}`` by shape inference, the batch axis ``"batch"``; the fixed batch.

    A graph whose inputs have a free batch axis is inferred twice, with the batch fixed to two different sizes:
    an axis whose length follows the batch is the batch axis, one that does not is a concrete length (ONNX
    propagates concrete shapes where a symbolic batch would leave most of them unknown, ``unk__N``). Otherwise,
    or where that inference fails, once with a symbolic batch axis.
    """
    fixed = None
    for value in _inputs(model):
        dims = value.type.tensor_type.shape.dim
        if len(dims) and dims[0].HasField("dim_value"):
            fixed = dims[0].dim_value
            break
    if fixed is None:
        first, second = (_infer(model, batch, input_shape) for batch in _BATCHES)
        if first is not None and second is not None:
            return {name: (elem_type, _combine(dims, second.get(name, (0, None))[1]))
                    for name, (elem_type, dims) in first.items()}, None
    shapes = _infer(model, None, input_shape)
    return (shapes or {}), fixed


#: The two batch sizes the shapes are inferred with (see :func:`_inferred_shapes`).
_BATCHES = (3, 5)


def _infer(model: ModelProto, batch: int | None, input_shape: tuple[int, ...] | None) -> dict | None:
    """Shape inference with the batch axis ``batch`` (None: symbolic) and the first input's item shape fixed."""
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for index, value in enumerate(_inputs(copy)):
        dims = value.type.tensor_type.shape.dim
        if len(dims):
            if batch is None:
                if not dims[0].HasField("dim_value"):
                    dims[0].dim_param = _SYMBOL
                else:  # a fixed batch stays as it is; shown as the batch where it appears first
                    pass
            else:
                dims[0].dim_value = batch
        if index == 0 and input_shape is not None:
            if len(input_shape) != len(dims) - 1:
                raise ValueError(f"input_shape {tuple(input_shape)} must give the {len(dims) - 1} axes of an item "
                                 f"of the model's input {value.name!r} (the batch axis left out)")
            for dim, length in zip(list(dims)[1:], input_shape):
                dim.dim_value = int(length)
    del copy.graph.value_info[:]
    for value in copy.graph.output:
        value.type.tensor_type.ClearField("shape")
    if batch is not None:
        copy = _folded(copy)
    try:
        inferred = onnx.shape_inference.infer_shapes(copy, data_prop=True)
    except Exception:  # shape inference fails on some graphs: shapes are then unknown, checked at run time
        return None if batch is not None else {}
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        tensor_type = value.type.tensor_type
        dims = None
        if tensor_type.HasField("shape"):
            dims = tuple(BATCH if d.dim_param == _SYMBOL else d.dim_value if d.HasField("dim_value")
                         else (d.dim_param or "?") for d in tensor_type.shape.dim)
        shapes[value.name] = (tensor_type.elem_type, dims)
    return shapes


def _folded(model: ModelProto) -> ModelProto:
    """The graph with its shape computations replaced by their values (the input's shape fixed).

    Shape inference cannot follow some constant computations (a padding computed by reshaping and transposing
    constants, as PyTorch exports ``Conv2dStaticSamePadding``); computed here (ONNX's reference evaluator, on an
    input of zeros: they read its shape only), they become initializers under their own names. The graph as it is
    where they cannot be computed (an input axis still free).
    """
    import onnx
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    computed = _shape_computations(model)
    nodes = [node for node in model.graph.node if node.output and all(not n or n in computed for n in node.output)]
    outputs = [name for node in nodes for name in node.output if name]
    if not outputs:
        return model
    feeds = {}
    for value in _inputs(model):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in value.type.tensor_type.shape.dim]
        if not all(dims):
            return model
        feeds[value.name] = np.zeros(dims, helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type))
    graph = helper.make_graph(nodes, "shapes", list(_inputs(model)),
                              [helper.make_empty_tensor_value_info(name) for name in outputs],
                              list(model.graph.initializer))
    sub = helper.make_model(graph, opset_imports=model.opset_import)
    sub.ir_version = model.ir_version
    try:
        values = ReferenceEvaluator(sub).run(outputs, {name: feeds[name] for name in feeds})
    except Exception:  # an operator the reference evaluator lacks: inferred as it is
        return model
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    kept = [node for node in folded.graph.node if not any(name in computed for name in node.output if name)]
    del folded.graph.node[:]
    folded.graph.node.extend(kept)
    folded.graph.initializer.extend(numpy_helper.from_array(np.asarray(value), name)
                                    for name, value in zip(outputs, values))
    return folded


def _combine(first: tuple | None, second: tuple | None) -> tuple | None:
    """One shape from the shapes inferred with the two batch sizes of :data:`_BATCHES`."""
    if first is None or second is None or len(first) != len(second):
        return None
    small, large = _BATCHES
    dims: list = []
    for a, b in zip(first, second):
        if a == b:
            dims.append(a)
        elif isinstance(a, int) and isinstance(b, int) and a % small == 0 and b % large == 0 \
                and a // small == b // large:
            dims.append(BATCH if a == small else f"batch×{a // small}")  # the batch merged with other axes
        else:
            dims.append("?")
    return tuple(dims)


def _layouts(model: ModelProto) -> Callable[[str], str | None]:
    """A function telling a tensor's layout (see the module) by walking back through its producers."""
    producers = {output: node for node in model.graph.node for output in node.output if output}

    def layout(name: str, depth: int = 0) -> str | None:
        node = producers.get(name)
        if node is None or depth > 64:
            return None
        if node.op_type in _CHANNELS_FIRST_OPS:
            return "channels_first"
        if node.op_type in _CHANNELS_LAST_OPS:
            return "channels_last"
        if node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if perm == [0, 2, 3, 1]:
                return "channels_last"
            if perm == [0, 3, 1, 2]:
                return "channels_first"
            return None
        if node.op_type in _ELEMENTWISE_OPS:
            for source in node.input:
                if source in producers:
                    return layout(source, depth + 1)
        return None

    return layout


def _reason(dims: tuple | None, fixed: int | None) -> str | None:
    if dims is None:
        return None
    if not dims:
        return "it is a scalar for the whole batch, with no value per item"
    merged = [d for d in dims if isinstance(d, str) and d.startswith("batch×")]
    if merged:
        return (f"its axis {merged[0]} merges the batch with other axes (shape {_show(dims)}): its items are not "
                "laid out one per row")
    if BATCH in dims[1:]:
        return (f"its batch axis is axis {dims.index(BATCH, 1)} of shape {_show(dims)}, not the first: its items "
                "are not laid out one per row")
    if isinstance(dims[0], int) and dims[0] != fixed:
        return (f"its first axis has the fixed length {dims[0]} (shape {_show(dims)}), which is not the batch axis: "
                "it does not follow the batch (a reshape across the batch, or a reduction over it, mixes items)")
    return None


def _show(dims: tuple | None) -> str:
    return "unknown" if dims is None else "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _shape_computations(model: ModelProto) -> set[str]:
    """Tensors computed from constants and input shapes only (``Shape``, ``Size``), not from the input's values."""
    computed = {tensor.name for tensor in model.graph.initializer}
    for node in model.graph.node:  # nodes are in topological order
        if node.op_type in ("Constant", "Shape", "Size") or all(not name or name in computed for name in node.input):
            computed.update(name for name in node.output if name)
    return computed


def _tensors(model: ModelProto, input_shape: tuple[int, ...] | None = None) -> list[EmbeddingTensor]:
    shapes, fixed = _inferred_shapes(model, input_shape)
    layout = _layouts(model)
    shape_computations = _shape_computations(model)
    tensors = []
    for node in model.graph.node:
        for name in node.output:
            if name in shape_computations:
                continue
            elem_type, dims = shapes.get(name, (0, None))
            if not name or (elem_type and elem_type not in _FLOAT_TYPES) or node.op_type in ("Constant", "Shape"):
                continue
            if not elem_type and node.op_type in ("ConstantOfShape", "Range", "NonZero", "ArgMax", "ArgMin"):
                continue
            rank = None if dims is None else len(dims)
            tensors.append(EmbeddingTensor(
                name=name, shape=dims, dtype=_FLOAT_TYPES.get(elem_type, "float32"), op_type=node.op_type,
                layout=layout(name) if rank in (3, 4) else None, reason=_reason(dims, fixed)))
    return tensors


def list_embedding_outputs(model: str | Path, include_refused: bool = False,
                           input_shape: tuple[int, ...] | None = None) -> list[EmbeddingTensor]:
    """The tensors of an ONNX graph that can serve as ``embedding_output``, in graph order, with their shapes.

    Args:
        model: Path to the ONNX file.
        include_refused: Also list the floating-point tensors that cannot serve (their ``reason`` says why).
        input_shape: The shape of one item of the model's (first) input, the batch axis left out, for example
            ``(3, 224, 224)``: fixes the input's free axes, so that the shapes come out concrete. Default: the
            input's shape as the file states it.

    Returns:
        One :class:`EmbeddingTensor` per floating-point tensor made by a node (constants and shape computations
        left out); shapes from ONNX shape inference, the batch axis shown as ``"batch"``.
    """
    if not isinstance(include_refused, (bool, np.bool_)):
        raise TypeError(f"include_refused must be True or False, got {include_refused!r}")
    if input_shape is not None:
        if isinstance(input_shape, (str, bytes)) or not all(
                isinstance(length, (int, np.integer)) and not isinstance(length, bool) and length > 0
                for length in input_shape):
            raise ValueError(f"input_shape must be positive axis lengths, for example (3, 224, 224), got "
                             f"{input_shape!r}")
        input_shape = tuple(int(length) for length in input_shape)
    tensors = _tensors(_load(model), input_shape)
    return tensors if include_refused else [tensor for tensor in tensors if tensor.usable]


def pooled_axes(rank: int, layout: str | None, pooling: str) -> tuple[int, ...]:
    """The axes (batch axis 0 never among them) that ``pooling`` averages or maximises for a tensor of ``rank``.

    Raises:
        ValueError: ``"mean"`` or ``"max"`` (or ``"auto"`` on a rank-4 tensor) where the graph does not tell which
            axis holds the channels.
    """
    if pooling not in EMBEDDING_POOLINGS:
        raise ValueError(f"embedding_pooling must be one of {EMBEDDING_POOLINGS}, got {pooling!r}")
    if pooling == "flatten" or rank <= 2 or (pooling == "auto" and rank != 4):
        return ()
    if layout is None:
        raise ValueError(f"embedding_pooling={pooling!r}: the graph does not tell which axis of this rank-{rank} "
                         "tensor holds the channels (it is not made by a convolution-family operator, a Transpose "
                         "or MatMul); use embedding_pooling='flatten'")
    return tuple(range(2, rank)) if layout == "channels_first" else tuple(range(1, rank - 1))


class EmbeddingCut:
    """An ONNX graph cut at an inner tensor: the graph with that tensor as its only output, and its pooling.

    Args:
        path: Path to the ONNX file.
        name: The tensor's name (see :func:`list_embedding_outputs`).
        pooling: One of :data:`EMBEDDING_POOLINGS` (see the module).

    Attributes:
        tensor: The :class:`EmbeddingTensor`.
        model_bytes: The serialised graph whose only output is the tensor, for an ONNX Runtime session.

    Raises:
        ValueError: A name the graph does not have (the message lists the closest names that exist and how many
            there are), or a tensor that cannot serve (the message says why).
    """

    def __init__(self, path: str | Path, name: str, pooling: str = "auto") -> None:
        import onnx

        if not isinstance(name, str) or not name:
            raise TypeError(f"embedding_output must be None or a tensor name (str), got {name!r}")
        if pooling not in EMBEDDING_POOLINGS:
            raise ValueError(f"embedding_pooling must be one of {EMBEDDING_POOLINGS}, got {pooling!r}")
        self.path, self.name, self.pooling = str(path), name, pooling
        model = _load(path)
        tensors = {tensor.name: tensor for tensor in _tensors(model)}
        if name not in tensors:
            inputs = [value.name for value in _inputs(model)]
            if name in inputs:
                raise ValueError(f"embedding_output {name!r} is an input of {self.path!r}, not a layer of it")
            close = difflib.get_close_matches(name, list(tensors), n=8, cutoff=0)
            raise ValueError(f"embedding_output {name!r} is not a tensor of {self.path!r}; it has {len(tensors)} "
                             f"candidate tensors, the closest: {close} (list them all with `dianna-distance layers "
                             f"{self.path}` or list_embedding_outputs)")
        self.tensor = tensors[name]
        if not self.tensor.usable:
            raise ValueError(f"embedding_output {name!r} of {self.path!r} cannot serve as an embedding: "
                             f"{self.tensor.reason}")
        if self.tensor.shape is not None:
            pooled_axes(len(self.tensor.shape), self.tensor.layout, pooling)  # refuses unknown layouts now
        elem_type = {dtype: code for code, dtype in _FLOAT_TYPES.items()}[self.tensor.dtype]
        del model.graph.output[:]
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, elem_type, None))
        self.model_bytes = model.SerializeToString()
        self._items_checked = False

    def pool(self, output: np.ndarray, n_items: int) -> np.ndarray:
        """The per-item embeddings ``(n_items, D)`` of the tensor's value for a batch of ``n_items``.

        Raises:
            ValueError: The tensor's first axis is not the batch (its length differs from ``n_items``).
        """
        output = np.asarray(output)
        if output.ndim == 0 or len(output) != n_items:
            raise ValueError(f"embedding_output {self.name!r} of {self.path!r} has shape {output.shape} for a batch "
                             f"of {n_items} items: its first axis is not the batch axis, so it cannot serve as an "
                             "embedding")
        axes = pooled_axes(output.ndim, self.tensor.layout, self.pooling)
        if axes:
            output = output.max(axis=axes) if self.pooling == "max" else output.mean(axis=axes)
        return output.reshape(n_items, -1)

    def check_items(self, run: Callable[[Batch], np.ndarray], batch: Batch) -> None:
        """Once per cut: the embeddings of the first two items of ``batch`` run together equal those run alone.

        Raises:
            ValueError: They differ: the tensor mixes the items of a batch.
        """
        if self._items_checked or len(batch) < 2:
            return
        self._items_checked = True
        if mixes_items(run, batch):
            raise ValueError(f"embedding_output {self.name!r} of {self.path!r} mixes the items of a batch: two items "
                             "run together give other values than each run alone, so it cannot serve as an "
                             "embedding")


def mixes_items(run: Callable[[Batch], np.ndarray], batch: Batch) -> bool:
    """Whether the first two items of ``batch`` run together give other outputs than each run alone (3 small calls)."""
    together = np.asarray(run(batch[:2]), dtype=np.float64)
    alone = np.concatenate([run(batch[:1]), run(batch[1:2])]).astype(np.float64)
    scale = max(float(np.abs(alone).max(initial=0.0)), 1e-12)
    return together.shape != alone.shape or not np.allclose(together, alone, rtol=1e-2, atol=1e-3 * scale)


class OutputCheck:
    """Once per model: the graph's own output for an item does not depend on the other items of its batch.

    A graph that mixes items (BatchNorm left in training mode, a normalisation over the batch) gives maps that
    depend on ``batch_size``; it is refused, as an inner tensor that mixes items is (:class:`EmbeddingCut`).

    Args:
        path: The ONNX file, for messages.
        output: The name of the output checked.
    """

    def __init__(self, path: str | Path, output: str) -> None:
        self.path, self.output = str(path), output
        self._items_checked = False

    def check_items(self, run: Callable[[Batch], np.ndarray], batch: Batch) -> None:
        """Once: the first two items of ``batch`` run together must give what each gives alone.

        Raises:
            ValueError: They differ (naming the likely cause and the fix).
        """
        if self._items_checked or len(batch) < 2:
            return
        self._items_checked = True
        if mixes_items(run, batch):
            raise ValueError(f"model: the output {self.output!r} of {self.path!r} mixes the items of a batch: two "
                             "items run together give other values than each run alone, so every map would depend "
                             "on batch_size. This is what a BatchNormalization left in training mode does: export "
                             "the model after model.eval() (PyTorch) or with training=False")


def input_layout(path: str | Path) -> tuple[str | None, str | None]:
    """How an ONNX graph reads its rank-3 input ``(N, ., .)``, from the first operator that gives it a meaning.

    Walking forward from the first input through element-wise operators: a convolution-family operator (``Conv``,
    pooling, normalisation) reads it channels first, ``(N, C, T)``, as PyTorch exports ``Conv1d``; a ``Transpose``
    with ``perm=[0, 2, 1]`` or ``MatMul`` / ``Gemm`` / ``LayerNormalization`` read it channels last, ``(N, T, C)``.

    Returns:
        ``("channels_first" or "channels_last" or None, the operator's type or None)``; None where the graph does
        not tell.
    """
    model = _load(path)
    inputs = _inputs(model)
    if not inputs:
        return None, None
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    frontier, seen = [inputs[0].name], set()
    while frontier:
        name = frontier.pop(0)
        for node in consumers.get(name, []):
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type in _CHANNELS_FIRST_OPS:
                return "channels_first", node.op_type
            if node.op_type in _CHANNELS_LAST_OPS:
                return "channels_last", node.op_type
            if node.op_type == "Transpose":
                perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
                return ("channels_last", "Transpose") if perm == [0, 2, 1] else (None, None)
            if node.op_type in _ELEMENTWISE_OPS:
                frontier.extend(output for output in node.output if output)
    return None, None
