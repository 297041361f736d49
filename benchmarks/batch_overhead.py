"""The batch engine's overhead per item, locally and on a Dask ``LocalCluster``, and its throughput.

For each model, ``explain_many`` explains ``--items`` photographs against one reference photograph (embedded by
the model) with ``--n-masks`` masks, three ways:

* ``local``: in this process, one item after another (ONNX Runtime using all cores);
* ``dask-1``: on a ``LocalCluster`` with one worker process and one thread (the same compute as ``local``, plus
  dispatch, pickling, transfer of the map back and the driver's writes);
* ``dask-N`` (N = ``--workers``, default the number of cores): N worker processes, each running one item at a time
  with its own ONNX Runtime session using all cores, so the processes compete for the cores.

Every variant is warmed up first (its ONNX Runtime sessions made, the reference embedded), then timed on a fresh
output folder. ``item s`` is the mean time an item took where it ran (loading the image, the explanation); the
engine's overhead per item is ``(wall time - fixed cost of a run - sum of item times) / items``, where the fixed
cost (hashing the model file and the references, reading the manifest) is timed separately by re-running the
finished run (every item skipped). ``overhead`` is that per-item overhead as a fraction of ``item s``; the target
is at most 2%. ``items/s`` is the throughput; ``dask-N`` vs ``local`` answers whether parallel processes beat
one process using all cores.

Usage::

    python benchmarks/batch_overhead.py [--models leafsnap resnet50] [--n-masks 1000] [--items 8] [--workers 2]
    python benchmarks/batch_overhead.py --models leafsnap --n-masks 20 --items 3      # smoke run

``resnet50`` is the architecture-exact file from ``make_models.py`` (needs ``torch`` and ``transformers`` to make
it once); ``leafsnap`` is the shared data's ``leafsnap_model.onnx``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_DATA = REPO.parent / "shared" / "data"  # only for the leafsnap model
IMAGES = REPO / "data" / "images"  # the paper's images, in the repository
sys.path.insert(0, str(HERE))  # make_models
sys.path.insert(0, str(REPO))  # dianna_distance from this source tree

PHOTOGRAPHS = ("bee.jpg", "bee2.jpg", "bike.jpg", "car1.jpg", "dogcar.jpg", "flower.jpg", "labradoodle1.jpg",
               "labradoodle2.jpg")
REFERENCE = "fly.jpg"
TARGET = 0.02


def _images(folder: Path) -> tuple[list[Path], Path]:
    """The item photographs and the reference photograph, from the repository's ``data/images``."""
    missing = [name for name in (*PHOTOGRAPHS, REFERENCE) if not (IMAGES / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the repository's images folder {IMAGES} lacks {', '.join(missing)}")
    return [IMAGES / name for name in PHOTOGRAPHS], IMAGES / REFERENCE


def _model_path(name: str, leafsnap: Path) -> Path | None:
    if name == "leafsnap":
        return leafsnap if leafsnap.is_file() else None
    from make_models import RESNET50_FILE, ensure_models

    try:
        return ensure_models(names=[RESNET50_FILE])[RESNET50_FILE]
    except ImportError as error:
        print(f"skipping resnet50: cannot make it ({error}); pip install -e '.[benchmark]'", file=sys.stderr)
        return None


def _timed_run(jobs: list, model: Path, output: Path, client: object, parameters: dict) -> dict:
    """Run into a fresh folder, then re-run it (all skipped) for the fixed cost; return the timings."""
    from dianna_distance.batch import explain_many, read_manifest

    start = time.perf_counter()
    run = explain_many(jobs, model, output, client=client, progress=False, **parameters)
    wall = time.perf_counter() - start
    if run.failed:
        raise RuntimeError(f"items failed: {run.failed}")
    start = time.perf_counter()
    explain_many(jobs, model, output, client=client, progress=False, **parameters)
    fixed = time.perf_counter() - start
    seconds = [record["seconds"] for record in read_manifest(output)[1].values()]
    item = sum(seconds) / len(seconds)
    overhead = (wall - fixed - sum(seconds)) / len(seconds)
    return {"wall": wall, "fixed": fixed, "item": item, "overhead": overhead, "fraction": overhead / item,
            "throughput": len(seconds) / wall}


def _warm(client: object, model: Path, jobs: list, parameters: dict, folder: Path) -> None:
    """Make every worker's session and reference embedding (or this process's, without a client) before timing."""
    from dianna_distance.batch import explain_many

    n_workers = 1 if client is None else len(client.scheduler_info()["workers"])
    warm_jobs = [type(job)(f"warm{i}", job.item, job.reference) for i, job in enumerate(jobs[:1] * n_workers)]
    in_flight = {} if client is None else {"max_in_flight": n_workers}  # max_in_flight applies to Dask runs only
    explain_many(warm_jobs, model, folder, client=client, progress=False, **in_flight, **parameters)


def measure(name: str, model: Path, n_items: int, n_masks: int, workers: int, folder: Path) -> list[dict]:
    """Time the three variants for one model; one row each."""
    from distributed import Client, LocalCluster

    from dianna_distance.batch import Job

    items, reference = _images(folder)
    jobs = [Job(f"item{i:04d}", items[i % len(items)], reference=reference) for i in range(n_items)]
    parameters = {"n_masks": n_masks, "random_state": 0}
    rows = []
    for variant, n_workers in (("local", 0), ("dask-1", 1), (f"dask-{workers}", workers)):
        output = folder / f"{name}-{variant}"
        if n_workers == 0:
            _warm(None, model, jobs, parameters, output.with_name(output.name + "-warm"))
            timings = _timed_run(jobs, model, output, None, parameters)
        else:
            with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                _warm(client, model, jobs, parameters, output.with_name(output.name + "-warm"))
                timings = _timed_run(jobs, model, output, client, parameters)
        rows.append({"model": name, "n_masks": n_masks, "items": n_items, "variant": variant, **timings})
        print(_format_row(rows[-1]), flush=True)
    return rows


HEADER = ("| model | n_masks | items | variant | item s | overhead ms/item | overhead | fixed s/run | wall s "
          "| items/s | × local |\n|---|---|---|---|---|---|---|---|---|---|---|")


def _format_row(row: dict, local: dict | None = None) -> str:
    speed = f"{row['throughput'] / local['throughput']:.2f}" if local else ""
    parallel = row["variant"] not in ("local", "dask-1")  # items overlap: wall time minus their sum is not overhead
    overhead = "n/a | n/a" if parallel else f"{1000 * row['overhead']:.1f} | {100 * row['fraction']:.2f}%"
    return (f"| {row['model']} | {row['n_masks']} | {row['items']} | {row['variant']} | {row['item']:.3f} | "
            f"{overhead} | {row['fixed']:.3f} | {row['wall']:.2f} | {row['throughput']:.3f} | {speed} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=("leafsnap", "resnet50"), default=["leafsnap", "resnet50"])
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes of dask-N")
    parser.add_argument("--leafsnap-model", type=Path, default=SHARED_DATA / "models" / "leafsnap_model.onnx")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            model = _model_path(name, args.leafsnap_model)
            if model is None:
                print(f"skipping {name}: no model file", file=sys.stderr)
                continue
            rows += measure(name, model, args.items, args.n_masks, args.workers, Path(folder))
    print(f"\n{os.cpu_count()} cores; overhead target: at most {100 * TARGET:.0f}% of an item\n")
    print(HEADER)
    locals_ = {row["model"]: row for row in rows if row["variant"] == "local"}
    for row in rows:
        print(_format_row(row, locals_[row["model"]]))
    over = [row for row in rows if row["variant"] in ("local", "dask-1") and row["fraction"] > TARGET]
    for row in over:
        print(f"over target: {row['model']} {row['variant']} {100 * row['fraction']:.2f}%")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
