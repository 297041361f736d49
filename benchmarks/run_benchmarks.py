"""Measure dianna-distance against pure ONNX Runtime inference and ``distance-explainer`` 0.6.0.

For every case (model × number of masks) and every repeat, each variant runs once in a fresh Python process, the
variants interleaved (in a rotating order) so that load from other processes on the machine hits them alike:

* ``pure``: pure ONNX Runtime inference of ``n_masks`` images: one session, made once (not timed) by
  ``dianna_distance.model.OnnxModel`` (so with the same session options and providers as ours) and then called
  directly, ``session.run``; a pre-made random batch is fed ``n_masks / batch_size`` times (the last batch holds
  the remainder).
* ``ours``: ``dianna_distance.DistanceExplainer(...).attribute(path, image, reference)``, one ``(D,)`` reference.
  Timed as a user sees it: the ONNX session is made inside the call.
* ``ours_k5``: the same with five references, ``(5, D)``.
* ``reselect``: after the ``ours`` run, in the same process, ``reselect`` with other selection ranges, another
  reference, five references and the Euclidean distance; the median of those calls (no model involved).
* ``session``: the time ``pure`` took to make its ONNX Runtime session (not part of ``pure``'s time, but part
  of ``ours`` and ``0.6.0``, which make sessions inside the call).
* ``0.6.0``: the paper authors' ``distance_explainer.DistanceExplainer(...).explain_image_distance(path, image,
  reference)``, with DIANNA's default ``SimpleModelRunner`` behind the path and the same batch size.

The image is a real photograph (``bee.jpg``) resized to the model's input, in [0, 1]; the references are the
model's embeddings of other photographs. Seconds are the median over repeats (also shown: the fastest repeat, and
the median CPU seconds of the timed section, user + system of all threads, which load from other processes
disturbs less than wall time); peak RSS (``ru_maxrss`` of the fresh process, which includes the interpreter and
the imports) is the median over repeats too.

Usage::

    pip install -e ".[benchmark]"            # or: pip install distance-explainer==0.6.0 transformers
    python benchmarks/run_benchmarks.py --output docs/benchmark_table.md
    python benchmarks/run_benchmarks.py --quick
    python benchmarks/run_benchmarks.py --models leafsnap --n-masks 1000 --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # make_models, when run as a script from anywhere

VARIANTS = ("pure", "ours", "ours_k5", "0.6.0")
RESULT_MARKER = "BENCHMARK_RESULT "
OLD_PACKAGE = "distance-explainer"
OLD_VERSION = "0.6.0"
INSTALL_OLD = f"pip install {OLD_PACKAGE}=={OLD_VERSION}  (or the benchmark-only extra: pip install -e '.[benchmark]')"
SHARED_DATA = REPO.parent / "shared" / "data"  # only for the leafsnap model (--leafsnap-model)
IMAGES = REPO / "data" / "images"  # the paper's images, in the repository
REFERENCE_IMAGES = ("bee2.jpg", "fly.jpg", "flower.jpg", "labradoodle1.jpg", "car1.jpg")


@dataclass
class ModelSpec:
    """A benchmark model.

    Attributes:
        name: Short name used on the command line.
        size: Height and width of the model's input images.
        n_masks: Default numbers of masks, one case each.
        repeats: Default number of repeats.
        file: File name in the cache directory (made by ``make_models.py``), or None for an external file.
    """

    name: str
    size: int
    n_masks: list[int]
    repeats: int
    file: str | None = None


MODELS = {
    "resnet50": ModelSpec("resnet50", 224, [1000], 2, "resnet50.onnx"),
    "clip": ModelSpec("clip", 224, [500, 1000], 2, "clip_vit_b32_image.onnx"),
    "leafsnap": ModelSpec("leafsnap", 128, [1000], 5),
}
QUICK_MASKS = {"resnet50": 50, "clip": 50, "leafsnap": 200}


@dataclass
class Case:
    """One model and number of masks, with the measurements of every variant."""

    model: str
    path: Path
    n_masks: int
    batch_size: int
    repeats: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    peak_mb: dict[str, list[float]] = field(default_factory=dict)
    start_mb: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, list[float]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)


# -- the measured process -----------------------------------------------------------------------------------------


def _patch_threads(threads: int | None) -> None:
    """Make every ONNX Runtime session in this process use ``threads`` intra-op threads (ours and DIANNA's)."""
    if not threads:
        return
    import onnxruntime as ort

    original = ort.SessionOptions

    class ThreadedSessionOptions(original):
        def __init__(self) -> None:
            super().__init__()
            self.intra_op_num_threads = threads

    ort.SessionOptions = ThreadedSessionOptions


def _rss_mb(field_name: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process in MB (from /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds() -> float:
    """User plus system CPU time of this process so far, in seconds (all threads)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB on Linux


def _run_pure(job: dict, image: np.ndarray) -> dict:
    """Time ``session.run`` alone on a pre-made random batch; the session is the one ``OnnxModel`` makes."""
    import onnxruntime as ort

    try:  # the very session (options, providers) that dianna-distance runs, used directly
        from dianna_distance.model import OnnxModel
    except ImportError:  # dianna-distance not importable: its settings as of version 0.1
        OnnxModel = None  # noqa: N806
    started = time.perf_counter()
    if OnnxModel is not None:
        session = OnnxModel(job["model_path"]).session
    else:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(job["model_path"], sess_options=options, providers=["CPUExecutionProvider"])
    setup = time.perf_counter() - started
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    n_masks, batch_size = job["n_masks"], job["batch_size"]
    batch = np.random.default_rng(job["seed"]).random((min(batch_size, n_masks), *image.shape), dtype=np.float32)
    started, cpu = time.perf_counter(), _cpu_seconds()
    for start in range(0, n_masks, batch_size):
        session.run([output_name], {input_name: batch[: min(batch_size, n_masks - start)]})
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu, "session_seconds": setup}


def _run_ours(job: dict, image: np.ndarray, references: np.ndarray) -> dict:
    """Time ``attribute``; the result holds the explainer for re-selection afterwards."""
    from dianna_distance import DistanceExplainer

    k5 = job["variant"] == "ours_k5"
    reference = references if k5 else references[0]
    explainer = DistanceExplainer(n_masks=job["n_masks"], batch_size=job["batch_size"], axis_labels={0: "channels"},
                                  random_state=job["seed"], progress=False)
    profiler = None
    if job.get("profile") and not k5:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), _cpu_seconds()
    saliency = explainer.attribute(job["model_path"], image, reference)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    expected_shape = (len(references), *image.shape[1:]) if k5 else image.shape[1:]
    if saliency.shape != expected_shape or not np.all(np.isfinite(saliency)):
        raise RuntimeError(f"unexpected saliency map {saliency.shape}, expected {expected_shape}")
    return {"seconds": seconds, "cpu_seconds": cpu, "explainer": explainer}


def _time_reselect(explainer: object, references: np.ndarray) -> list[float]:
    """Seconds of each of several ``reselect`` calls on the stored embeddings (run after the peak RSS is read)."""
    calls = [
        {"mask_selection_range_max": 0.2, "mask_selection_negative_range_min": 0.8},
        {"mask_selection_range_min": 0.05, "mask_selection_range_max": 0.15},
        {"embedded_reference": references[1 % len(references)]},
        {"embedded_reference": references},
        {"distance": "euclidean"},
    ]
    seconds = []
    for kwargs in calls:
        started = time.perf_counter()
        explainer.reselect(**kwargs)
        seconds.append(time.perf_counter() - started)
    return seconds


def _run_old(job: dict, image: np.ndarray, references: np.ndarray) -> dict:
    from distance_explainer import DistanceExplainer as OldDistanceExplainer

    explainer = OldDistanceExplainer(n_masks=job["n_masks"], batch_size=job["batch_size"],
                                     axis_labels={0: "channels"})
    np.random.seed(job["seed"])  # 0.6.0 draws its masks from the global RNG
    started, cpu = time.perf_counter(), _cpu_seconds()
    saliency = explainer.explain_image_distance(job["model_path"], image, references[0])
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if np.squeeze(saliency).shape != image.shape[1:]:  # 0.6.0 returns (1, H, W, 1)
        raise RuntimeError(f"unexpected saliency map {np.shape(saliency)}")
    return {"seconds": seconds, "cpu_seconds": cpu}


def run_single(job: dict) -> dict:
    """Run one variant once in this (fresh) process and return its time and memory.

    Args:
        job: ``variant``, ``model_path``, ``image`` and ``references`` (``.npy`` paths), ``n_masks``,
            ``batch_size``, ``threads``, ``seed`` and optionally ``profile`` (a path for cProfile stats of ours).

    Returns:
        ``seconds``, ``peak_rss_mb``, ``start_rss_mb`` and variant-specific entries.
    """
    import onnxruntime  # noqa: F401  (imported before any timing, for every variant alike)

    _patch_threads(job.get("threads"))
    image = np.load(job["image"])
    references = np.load(job["references"])
    start_mb = _rss_mb("VmRSS")
    variant = job["variant"]
    if variant == "pure":
        result = _run_pure(job, image)
    elif variant in ("ours", "ours_k5"):
        result = _run_ours(job, image, references)
    elif variant == "0.6.0":
        result = _run_old(job, image, references)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    result["peak_rss_mb"] = _peak_rss_mb()
    result["start_rss_mb"] = start_mb
    explainer = result.pop("explainer", None)
    if variant == "ours":
        result["reselect_seconds"] = _time_reselect(explainer, references)
    return result


# -- the driver -----------------------------------------------------------------------------------------------------


def _load_image(path: Path, size: int) -> np.ndarray:
    """An RGB photograph as float32 ``(3, size, size)`` in [0, 1]."""
    from PIL import Image

    with Image.open(path) as picture:
        picture = picture.convert("RGB").resize((size, size), Image.BILINEAR)
        return np.ascontiguousarray(np.asarray(picture, dtype=np.float32).transpose(2, 0, 1) / 255)


def _image_dir() -> Path:
    missing = [name for name in ("bee.jpg", *REFERENCE_IMAGES) if not (IMAGES / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the repository's images folder {IMAGES} lacks {', '.join(missing)}")
    return IMAGES


def _bee_path() -> Path:
    return _image_dir() / "bee.jpg"


def _prepare_inputs(model_path: Path, size: int, workdir: Path) -> tuple[Path, Path]:
    """Save the image and five reference embeddings (the model's embeddings of other photographs) as .npy files."""
    import onnxruntime as ort

    image = _load_image(_bee_path(), size)
    others = np.stack([_load_image(_image_dir() / name, size) for name in REFERENCE_IMAGES])
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    references = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(others, dtype=np.float32)})[0]
    image_file, reference_file = workdir / f"{model_path.stem}_{size}_image.npy", workdir / f"{model_path.stem}_ref.npy"
    np.save(image_file, image)
    np.save(reference_file, references.astype(np.float32))
    return image_file, reference_file


def _default_batch_size(size: int, n_masks: int) -> int:
    """The batch size dianna-distance picks by itself for this image (so all variants use the default)."""
    try:
        from dianna_distance.core import auto_batch_size

        return int(auto_batch_size(3 * size * size, n_masks))
    except ImportError:
        return min(32, n_masks)


def _spawn(job: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--single", json.dumps(job)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"variant {job['variant']} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT_MARKER):])


def _old_version() -> str | None:
    try:
        return importlib.metadata.version(OLD_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def measure(case: Case, variants: list[str], image: Path, references: Path, threads: int | None, seed: int,
            profile_dir: Path | None = None) -> None:
    """Run every variant ``case.repeats`` times, interleaved, in a rotating order; fill in ``case``."""
    for repeat in range(case.repeats):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            job = {"variant": variant, "model_path": str(case.path), "image": str(image),
                   "references": str(references), "n_masks": case.n_masks, "batch_size": case.batch_size,
                   "threads": threads, "seed": seed}
            if profile_dir is not None and variant == "ours":
                job["profile"] = str(profile_dir / f"ours_{case.model}_{case.n_masks}_{repeat}.prof")
            if hasattr(os, "getloadavg"):
                case.load.append(os.getloadavg()[0])
            result = _spawn(job)
            case.seconds.setdefault(variant, []).append(result["seconds"])
            case.cpu.setdefault(variant, []).append(result["cpu_seconds"])
            case.peak_mb.setdefault(variant, []).append(result["peak_rss_mb"])
            case.start_mb.setdefault(variant, []).append(result["start_rss_mb"])
            if result.get("reselect_seconds"):
                case.extra.setdefault("reselect", []).extend(result["reselect_seconds"])
            if "session_seconds" in result:
                case.extra.setdefault("session", []).append(result["session_seconds"])
            print(f"  {case.model} n={case.n_masks} repeat {repeat + 1}/{case.repeats} {variant:8s} "
                  f"{result['seconds']:8.2f} s  CPU {result['cpu_seconds']:8.2f} s  "
                  f"peak {result['peak_rss_mb']:7.0f} MB", file=sys.stderr, flush=True)


def _rows(case: Case) -> list[list[str]]:
    def ratio(value: float | None, base: float | None, digits: int = 3) -> str:
        return f"{value / base:.{digits}f}" if value is not None and base else "-"

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}" if value < 1 else f"{value:.2f}"

    def median(values: dict, variant: str) -> float | None:
        return statistics.median(values[variant]) if variant in values else None

    pure_s, pure_min = median(case.seconds, "pure"), min(case.seconds.get("pure", [0])) or None
    pure_cpu, pure_mb = median(case.cpu, "pure"), median(case.peak_mb, "pure")
    ours_s = median(case.seconds, "ours")
    rows = []
    for variant in [*VARIANTS, "reselect", "session"]:
        if variant in ("reselect", "session"):
            if variant not in case.extra:
                continue
            seconds, fastest, cpu, peak = median(case.extra, variant), None, None, None
        elif variant in case.seconds:
            seconds, fastest = median(case.seconds, variant), min(case.seconds[variant])
            cpu, peak = median(case.cpu, variant), median(case.peak_mb, variant)
        else:
            continue
        time_ratio = ratio(seconds, pure_s)
        if variant in ("reselect", "session") and ours_s:
            time_ratio += f" ({100 * seconds / ours_s:.2f}% of ours)"
        rows.append([case.model, str(case.n_masks), str(case.batch_size), variant, number(seconds), time_ratio,
                     number(fastest), ratio(fastest, pure_min), number(cpu), ratio(cpu, pure_cpu),
                     "-" if peak is None else f"{peak:.0f}", ratio(peak, pure_mb, 2)])
    return rows


HEADER = ["model", "n_masks", "batch", "variant", "median s", "× pure", "min s", "min × pure", "CPU s", "CPU × pure",
          "peak RSS MB", "RSS × pure"]


def format_table(cases: list[Case], markdown: bool) -> str:
    """The results as a plain-text or markdown table."""
    rows = [row for case in cases for row in _rows(case)]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(str(cell)) for cell in column) for column in zip(HEADER, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [HEADER, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def check_targets(cases: list[Case]) -> list[str]:
    """Issue 4's targets, one line each: the ratio of medians (and of minima, and of CPU times), PASS or MISS.

    PASS or MISS is decided on the ratio of medians; the ratio of the fastest runs and of CPU seconds are shown
    because load from other processes only ever adds wall time.
    """
    lines = [f"{'case':22s} {'target':28s} {'median':>8s} {'min':>8s} {'CPU':>8s}"]
    for case in cases:
        median = {variant: statistics.median(values) for variant, values in case.seconds.items()}
        fastest = {variant: min(values) for variant, values in case.seconds.items()}
        cpu = {variant: statistics.median(values) for variant, values in case.cpu.items()}
        peak = {variant: statistics.median(values) for variant, values in case.peak_mb.items()}
        label = f"{case.model} n={case.n_masks}"
        limit = 1.25 if case.model == "leafsnap" else 1.05
        checks = []
        for variant, base, name, bound in (("ours", "pure", f"ours / pure ≤ {limit}", limit),
                                           ("ours_k5", "ours", "K=5 / K=1 ≤ 1.10", 1.10)):
            if variant in median and base in median:
                checks.append((name, median[variant] / median[base], fastest[variant] / fastest[base],
                               cpu[variant] / cpu[base], bound))
        if "reselect" in case.extra and "ours" in median:
            checks.append(("reselect / ours ≤ 0.01", statistics.median(case.extra["reselect"]) / median["ours"],
                           None, None, 0.01))
        for variant in ("ours", "ours_k5"):
            if variant in peak and "pure" in peak:
                checks.append((f"peak RSS {variant} / pure ≤ 1.3", peak[variant] / peak["pure"], None, None, 1.3))
        for name, value, by_min, by_cpu, bound in checks:
            extra = " ".join("       -" if x is None else f"{x:8.4f}" for x in (by_min, by_cpu))
            lines.append(f"{label:22s} {name:28s} {value:8.4f} {extra}  {'PASS' if value <= bound else 'MISS'}")
    return lines


def describe_setup(threads: int | None, repeats_note: str) -> list[str]:
    """Lines describing the machine and the software."""
    import onnxruntime

    try:
        ours = importlib.metadata.version("dianna-distance")
    except importlib.metadata.PackageNotFoundError:
        ours = "source tree"
    old = _old_version()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"machine: {cpu}, {available} CPU cores available, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}, numpy {np.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"CPUExecutionProvider, intra-op threads: {threads or 'ONNX Runtime default (one per physical core)'}",
        f"dianna-distance: {ours}; {OLD_PACKAGE}: {old or 'not installed'} (installed with: {INSTALL_OLD})",
        f"repeats: {repeats_note}; every run in a fresh process, variants interleaved in a rotating order",
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line options."""
    parser = argparse.ArgumentParser(description="Benchmark dianna-distance against pure ONNX Runtime inference "
                                                 "and distance-explainer 0.6.0.")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--n-masks", nargs="+", type=int, help="numbers of masks (default per model: resnet50 1000, "
                                                               "clip 500 and 1000, leafsnap 1000)")
    parser.add_argument("--repeats", type=int, help="repeats per case (default: resnet50 2, clip 2, leafsnap 3)")
    parser.add_argument("--batch-size", type=int, help="batch size for all variants (default: dianna-distance's "
                                                       "automatic choice for the image)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: ONNX Runtime's)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="few masks, one repeat: a smoke test of the harness")
    parser.add_argument("--output", type=Path, help="also write the table as markdown to this file")
    parser.add_argument("--cache-dir", type=Path, default=HERE / "models", help="where the made ONNX files live")
    parser.add_argument("--leafsnap-model", type=Path, default=SHARED_DATA / "models" / "leafsnap_model.onnx")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=Path, help="directory for cProfile stats of the 'ours' runs")
    parser.add_argument("--single", help=argparse.SUPPRESS)  # internal: run one variant, JSON job description
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    args = parse_args(argv)
    if args.single:
        print(RESULT_MARKER + json.dumps(run_single(json.loads(args.single))), flush=True)
        return

    variants = list(args.variants)
    if "0.6.0" in variants and _old_version() != OLD_VERSION:
        print(f"{OLD_PACKAGE}=={OLD_VERSION} is not installed ({_old_version()}); skipping it. Install: {INSTALL_OLD}",
              file=sys.stderr)
        variants.remove("0.6.0")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    from make_models import ensure_models

    cases = []
    with tempfile.TemporaryDirectory(prefix="dianna_distance_bench_") as workdir:
        for name in args.models:
            spec = MODELS[name]
            if spec.file is None:
                path = args.leafsnap_model
                if not path.is_file():
                    print(f"skipping {name}: {path} not found (--leafsnap-model)", file=sys.stderr)
                    continue
            else:
                path = ensure_models(args.cache_dir, [spec.file])[spec.file]
            image, references = _prepare_inputs(path, spec.size, Path(workdir))
            n_masks_list = [QUICK_MASKS[name]] if args.quick else args.n_masks or spec.n_masks
            repeats = 1 if args.quick and not args.repeats else args.repeats or spec.repeats
            for n_masks in n_masks_list:
                batch_size = args.batch_size or _default_batch_size(spec.size, n_masks)
                case = Case(name, path, n_masks, batch_size, repeats)
                measure(case, variants, image, references, args.threads, args.seed, args.profile)
                cases.append(case)
                print(format_table([case], markdown=False), file=sys.stderr, flush=True)

    repeats_note = ", ".join(f"{case.model} n={case.n_masks}: {case.repeats}" for case in cases)
    loads = [load for case in cases for load in case.load]
    if loads:
        repeats_note += f"; 1-minute load average before the runs: {min(loads):.1f} to {max(loads):.1f}"
    setup = describe_setup(args.threads, repeats_note)
    targets = check_targets(cases)
    print("\n".join(setup))
    print()
    print(format_table(cases, markdown=False))
    print("\nTargets (issue 4):")
    print("\n".join(targets))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        text = ["\n".join(f"- {line}" for line in setup), "", format_table(cases, markdown=True), "",
                "Targets (issue 4):", "", "```", *targets, "```", ""]
        args.output.write_text("\n".join(text))
        print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
