"""The ``layers`` subcommand: list the tensors of an ONNX graph that can serve as ``--embedding-output``."""

from __future__ import annotations

import argparse
import sys

from dianna_distance.layers import EmbeddingTensor, list_embedding_outputs


def add_layers_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``layers`` subcommand."""
    layers = commands.add_parser("layers", help="list the tensors of an ONNX model that can serve as the embedding "
                                                "(--embedding-output), with their shapes, in graph order")
    layers.add_argument("model", help="ONNX file")
    layers.add_argument("--all", action="store_true",
                        help="also list the tensors that cannot serve, with the reason")


def format_layers(tensors: list[EmbeddingTensor]) -> list[str]:
    """One line per tensor: name, shape (batch axis ``batch``), operator, embedding size, and why it is refused."""
    rows = [("name", "shape", "op", "embedding (auto)")]
    for tensor in tensors:
        shape = "unknown" if tensor.shape is None else "(" + ", ".join(str(d) for d in tensor.shape) + ")"
        try:
            size = tensor.pooled_size("auto") if tensor.usable else None
            embedding = "refused: " + str(tensor.reason) if not tensor.usable else "?" if size is None else str(size)
        except ValueError:
            embedding = "layout unknown: use --embedding-pooling flatten"
        if tensor.usable and not tensor.batch_first:
            embedding += " (batch axis checked when it runs)"
        rows.append((tensor.name, shape, tensor.op_type, embedding))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return ["  ".join(value.ljust(width) for value, width in zip(row[:3], widths)) + "  " + row[3] for row in rows]


def run_layers(args: argparse.Namespace) -> list:
    """Run the ``layers`` subcommand: print the table on stdout; nothing is written."""
    tensors = list_embedding_outputs(args.model, include_refused=args.all)
    for line in format_layers(tensors):
        print(line.rstrip())
    print(f"{len(tensors)} tensors" + ("" if args.all else " (--all also lists those that cannot serve)"),
          file=sys.stderr)
    return []
