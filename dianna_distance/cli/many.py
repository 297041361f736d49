"""``explain-many``: a resumable batch run of many explanations (:mod:`dianna_distance.batch`)."""

from __future__ import annotations

import argparse
import sys

from dianna_distance.cli.common import add_explainer_options, explainer_parameters
from dianna_distance.models import PRESETS


def add_explain_many_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-many`` subcommand."""
    many = commands.add_parser("explain-many", help="explain many (item, reference) jobs from a CSV/JSONL file into "
                                                    "a folder, resumably, here or on a Dask cluster")
    many.add_argument("jobs", help="CSV or JSONL jobs file: columns/keys id, item, reference or caption (paths "
                                   "relative to the jobs file)")
    many.add_argument("--model", required=True, help="ONNX image model (with --preset also a registry name)")
    many.add_argument("--output", required=True, help="folder for the maps (.npy) and manifest.jsonl; re-running "
                                                      "into it resumes")
    many.add_argument("--preset", choices=sorted(PRESETS), help="preprocess images as this preset says; --model "
                                                               "may then be the preset's name, to download its file")
    many.add_argument("--mask-on", choices=("pixels", "normalized"), default="pixels",
                      help="with --preset: mask pixels before or after normalisation (default: pixels)")
    many.add_argument("--pixel-max", type=float, default=1.0,
                      help="without --preset: value of a white pixel in the model's input (default: 1.0)")
    many.add_argument("--text-model", help="CLIP text-tower ONNX file for caption jobs (default: registry clip-text)")
    many.add_argument("--tokenizer", help="tokenizer.json for caption jobs (default: registry clip-tokenizer)")
    many.add_argument("--scheduler", help="Dask scheduler address (e.g. tcp://host:8786): run the items on that "
                                          "cluster's workers (needs dianna-distance[dask])")
    many.add_argument("--retry-failed", action="store_true", help="run the items recorded as failed again")
    many.add_argument("--item-progress", action="store_true", help="show a progress bar inside each explanation")
    add_explainer_options(many, defaults={"random_state": 0})


def run_explain_many(args: argparse.Namespace) -> int:
    """Run the ``explain-many`` subcommand; returns the exit status."""
    from dianna_distance.batch import explain_many

    parameters = explainer_parameters(args)
    progress = parameters.pop("progress")
    run = explain_many(args.jobs, args.model, args.output, preset=args.preset, mask_on=args.mask_on,
                       pixel_max=args.pixel_max, text_model=args.text_model, tokenizer=args.tokenizer,
                       client=args.scheduler, retry_failed=args.retry_failed, progress=progress,
                       item_progress=args.item_progress, **parameters)
    print(f"explained {len(run.explained)} items, skipped {len(run.skipped)} already done, {len(run.failed)} "
          f"failed; manifest {run.manifest}")
    if run.failed:
        job_id, error = next(iter(run.failed.items()))
        print(f"dianna-distance: error: {len(run.failed)} items failed (first: {job_id!r}: {error}); see the "
              "manifest, and re-run with --retry-failed to try them again", file=sys.stderr)
        return 1
    return 0


