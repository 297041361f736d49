"""Table explanation cost vs pure inference of the same masked rows, side by side in one process.

Models (ONNX, run by one :class:`~dianna_distance.model.OnnxModel` made beforehand, so the ONNX Runtime session is
outside every timing):

* ``mlp``: a realistic tabular embedding network, 30 features -> 1024 -> 1024 -> 1024 -> 128 (tanh), random
  weights (about 2.2 million parameters; written to a temporary folder by this script);
* ``wine``: the tiny wine classifier of the tables example (13 -> 16 -> 8), whose inference costs microseconds, so
  the explainer's own work (masks, background rows, distances, ranking, the weighted sum) is most of its time.

Variants, each timed once per repeat in a rotating order:

* ``pure``: ``session.run`` on the masked rows the explainer makes (built beforehand, not timed), in the same
  batches; nothing else.
* ``ours``: ``TabularDistanceExplainer(training_data=background, n_masks, random_state=0).attribute(model, row,
  reference)`` with one ``(D,)`` reference: checks, masks, a background row per mask, masked rows, inference,
  distances, ranking, the map, its standard error and significance.
* ``ours_k5``: the same with five references ``(5, D)``.

The table shows the median seconds over repeats and the ratio to ``pure`` (target: at most 1.10).

Measured on a 2-core machine shared with other jobs (so single numbers move by tens of percent between runs),
5000 masks, batch 256: the 30-2048-2048-2048-128 mlp (8.5 million parameters) ``ours`` 1.00x, ``ours_k5`` 0.98x;
the 30-1024-1024-1024-128 mlp (2.2 million) 1.06x to 1.25x over runs (the explainer's own work, about 0.05 s of
masks and masked rows plus 0.03 s of distances for 5000 masks, is 5-10% of its 0.6-1.3 s inference, and ONNX
Runtime's threads spinning between runs slow it further); the tiny wine model 12x to 45x (its inference takes
about a millisecond: there the explainer's fixed work is all of the time).

Usage::

    python benchmarks/tabular_benchmark.py                 # 5000 masks, 7 repeats, both models
    python benchmarks/tabular_benchmark.py --width 2048    # a larger mlp (about 8.5 million parameters)
    python benchmarks/tabular_benchmark.py --quick         # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def mlp_file(folder: Path, sizes: tuple[int, ...] = (30, 1024, 1024, 1024, 128), seed: int = 0) -> Path:
    """An ONNX MLP ``sizes[0] -> ... -> sizes[-1]`` with tanh layers and random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, initializers, current = [], [], "features"
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weight = (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        initializers += [numpy_helper.from_array(weight, f"W{index}"),
                         numpy_helper.from_array(np.zeros(n_out, np.float32), f"b{index}")]
        nodes += [helper.make_node("MatMul", [current, f"W{index}"], [f"z{index}"]),
                  helper.make_node("Add", [f"z{index}", f"b{index}"], [f"a{index}"]),
                  helper.make_node("Tanh", [f"a{index}"], [f"h{index}"])]
        current = f"h{index}"
    nodes[-1].output[0] = "embedding"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                                                           ["batch", sizes[0]])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", sizes[-1]])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = folder / "mlp.onnx"
    onnx.save(model, path)
    return path


def bench(name: str, path: Path, background: np.ndarray, n_masks: int, repeats: int, batch_size: int | None,
          threads: int | None = None, spinning: bool = True) -> dict[str, float]:
    """Median seconds of ``pure``, ``ours`` and ``ours_k5`` for one model."""
    from dianna_distance.core import auto_batch_size
    from dianna_distance.model import OnnxModel
    from dianna_distance.tabular import TabularDistanceExplainer

    model = OnnxModel(path, providers=["CPUExecutionProvider"])
    if threads is not None or not spinning:  # one session for both variants, with these options
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        if not spinning:  # ORT's idle threads spin after each run, competing with the work between runs
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        model.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    row = background[0]
    references = np.asarray(model(background[1:6]), dtype=np.float64)
    batch_size = batch_size or auto_batch_size(background.shape[1], n_masks)

    def explainer() -> TabularDistanceExplainer:
        return TabularDistanceExplainer(training_data=background, n_masks=n_masks, batch_size=batch_size,
                                        random_state=0, progress=False)

    probe = explainer()  # the masked rows of the explainer's run, made beforehand for the pure variant
    probe.attribute(model, row, references[0])
    masked = np.where(np.asarray(probe.masks_), row, background[probe.background_rows_]).astype(np.float32)
    batches = [np.ascontiguousarray(masked[start : start + batch_size]) for start in range(0, n_masks, batch_size)]

    def pure() -> None:
        for batch in batches:
            model.session.run([model.output_name], {model.input_name: batch})

    variants = {"pure": pure, "ours": lambda: explainer().attribute(model, row, references[0]),
                "ours_k5": lambda: explainer().attribute(model, row, references)}
    for variant in variants.values():  # warm-up
        variant()
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    names = list(variants)
    for repeat in range(repeats):
        for variant in names[repeat % len(names):] + names[: repeat % len(names)]:
            start = time.perf_counter()
            variants[variant]()
            times[variant].append(time.perf_counter() - start)
    medians = {variant: statistics.median(values) for variant, values in times.items()}
    print(f"\n{name}: {background.shape[1]} features, {n_masks} masks, batch {batch_size}, {repeats} repeats, "
          f"ONNX Runtime threads {threads or 'default'}, spinning {'on' if spinning else 'off'} (median seconds)\n")
    print("| variant | seconds | vs pure |")
    print("|---|---|---|")
    for variant, seconds in medians.items():
        print(f"| {variant} | {seconds:.4f} | {seconds / medians['pure']:.3f}x |")
    return medians


def main() -> None:
    """Run the benchmark and print one markdown table per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-masks", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the explainer's automatic size")
    parser.add_argument("--width", type=int, default=1024, help="hidden width of the mlp (three hidden layers)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: ORT's)")
    parser.add_argument("--no-spinning", action="store_true", help="ONNX Runtime threads do not spin between runs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 masks, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.n_masks, args.repeats = 300, 1

    from sklearn.datasets import load_breast_cancer, load_wine

    from dianna_distance.data import WINE_MODEL

    with tempfile.TemporaryDirectory() as folder:
        cancer = load_breast_cancer().data
        cancer = ((cancer - cancer.mean(axis=0)) / cancer.std(axis=0)).astype(np.float32)
        sizes = (30, args.width, args.width, args.width, 128)
        bench(f"mlp {'-'.join(map(str, sizes))} (breast-cancer rows, standardised)", mlp_file(Path(folder), sizes),
              cancer,
              args.n_masks, args.repeats, args.batch_size, args.threads, not args.no_spinning)
    bench("wine 13-16-8 (tiny)", WINE_MODEL, load_wine().data.astype(np.float32), args.n_masks, args.repeats,
          args.batch_size, args.threads, not args.no_spinning)


if __name__ == "__main__":
    main()
