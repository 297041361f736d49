"""``explain-many``: a resumable batch run of many explanations (:mod:`dianna_distance.batch`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.cli.cluster import add_scheduler_option
from dianna_distance.cli.common import (
    PRESET_CHOICES,
    add_explainer_options,
    explainer_parameters,
    plural,
    seed_line,
    speak_options,
)

if TYPE_CHECKING:
    from dianna_distance.batch import ItemResult, Job


def add_explain_many_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-many`` subcommand."""
    many = commands.add_parser("explain-many", help="explain many (item, reference) jobs from a CSV/JSONL file into "
                                                    "a folder, resumably, here or on a Dask cluster")
    many.add_argument("jobs", help="CSV or JSONL jobs file: columns/keys id, item, reference or caption (paths "
                                   "relative to the jobs file)")
    many.add_argument("--model", required=True, help="ONNX image model (with --preset also a registry name)")
    many.add_argument("--output", "-o", required=True, help="folder for the maps (.npy) and manifest.jsonl; re-running "
                                                      "into it resumes")
    many.add_argument("--preset", choices=PRESET_CHOICES, help="preprocess images as this preset says; --model "
                                                               "may then be the preset's name, to download its file")
    many.add_argument("--mask-on", choices=("pixels", "normalized"), default=None,
                      help="with --preset only: mask pixels before or after normalisation (default: pixels)")
    many.add_argument("--pixel-max", type=float, default=None,
                      help="without --preset only: value of a white pixel in the model's input (default: 1.0)")
    many.add_argument("--text-model", help="CLIP text-tower ONNX file for caption jobs (default: registry clip-text)")
    many.add_argument("--tokenizer", help="tokenizer.json for caption jobs (default: registry clip-tokenizer)")
    add_scheduler_option(many, split=False)
    many.add_argument("--retry-failed", action="store_true", help="run the items recorded as failed again")
    many.add_argument("--item-progress", action="store_true", help="show a progress bar inside each explanation")
    many.add_argument("--embedding-output", metavar="TENSOR",
                      help="use this inner tensor of the ONNX graph as the embedding, for items and image references "
                           "alike (list them with 'dianna-distance layers MODEL')")
    many.add_argument("--embedding-pooling", choices=("auto", "flatten", "mean", "max"),
                      help="how --embedding-output becomes one vector per item (default auto: spatial tensors "
                           "averaged over height and width, others flattened)")
    many.add_argument("--training-data", help="background rows (.csv with a header) for table-row jobs "
                                               "(kind tabular): a masked feature takes a background row's value")
    many.add_argument("--png", action="store_true",
                      help="also draw each map explained in this run as a figure (image, reference, map with its "
                           "significance; a table row's feature bars; a series' panels; each titled item vs "
                           "reference and their distance): "
                           "<output>/figures/<map file name>.png")
    add_explainer_options(many)


def run_explain_many(args: argparse.Namespace) -> int:
    """Run the ``explain-many`` subcommand; returns the exit status (1 when jobs failed, now or earlier)."""
    from dianna_distance.batch import explain_many, read_jobs

    checked = explainer_parameters(args)  # before the jobs file is read or the model loaded
    if args.scheduler is not None:
        from dianna_distance.batch.cluster import check_client

        check_client(args.scheduler)  # a --scheduler that is no address: one line, at once
    if args.preset is not None and args.pixel_max is not None:
        raise ValueError("--pixel-max does not apply with --preset: the preset's normalisation sets the scale of the "
                         "pixels")
    if args.preset is None and args.mask_on is not None:
        raise ValueError("--mask-on applies only with --preset (masking before or after the preset's "
                         "normalisation)")
    jobs = read_jobs(args.jobs)
    if not any(job.caption is not None for job in jobs):
        for option, value in (("--text-model", args.text_model), ("--tokenizer", args.tokenizer)):
            if value is not None:
                raise ValueError(f"{option} applies only to caption jobs, and no job in {args.jobs!r} has a caption")
    kinds = {job.kind for job in jobs} or {"image"}
    parameters = _for_kinds(checked, kinds)
    for name in ("embedding_output", "embedding_pooling"):
        if getattr(args, name) is not None:
            parameters[name] = getattr(args, name)
    if args.embedding_pooling is not None and args.embedding_output is None:
        raise ValueError("--embedding-pooling applies only with --embedding-output")
    if args.training_data is not None:
        if "tabular" not in kinds:
            raise ValueError(f"--training-data applies only to table-row jobs (kind tabular), and no job in "
                             f"{args.jobs!r} is one")
        parameters["training_data"] = args.training_data
    progress = parameters.pop("progress")
    draw = MapFigures(Path(args.output), args.pixel_max or 1.0, str(parameters.get("distance", "cosine"))) \
        if args.png else None
    run = explain_many(jobs, args.model, args.output, preset=args.preset, mask_on=args.mask_on,
                       pixel_max=args.pixel_max, text_model=args.text_model, tokenizer=args.tokenizer,
                       client=args.scheduler, retry_failed=args.retry_failed, progress=progress,
                       item_progress=args.item_progress, on_result=draw, **parameters)
    changed = f", {len(run.changed)} of them changed since an earlier run" if run.changed else ""
    print(f"explained {plural(len(run.explained), 'item')}{changed}, skipped {len(run.skipped)} from earlier runs, "
          f"{len(run.failed)} failed; manifest {run.manifest}; {seed_line(args)}")
    if run.failed:
        job_id, error = next(iter(run.failed.items()))
        earlier = (f"; {len(run.failed_earlier)} of them failed in an earlier run and were not retried"
                   if run.failed_earlier else "")
        error = speak_options(error, getattr(args, "option_names", {}))
        print(f"dianna-distance: error: {plural(len(run.failed), 'item')} failed (first: {job_id!r}: {error})"
              f"{earlier}; see the manifest, and re-run with --retry-failed to try them again", file=sys.stderr)
        return 1
    return 0


def _for_kinds(parameters: dict, kinds: set[str]) -> dict:
    """The explainer options that apply to the jobs' kinds.

    An option left at its default that a kind's explainer does not take (``--feature-res`` for table rows) is left
    out; one given with another value is kept, and the run refuses it, naming it.
    """
    import inspect

    from dianna_distance.batch import JOB_KINDS

    defaults = _defaults()
    accepted = [set(inspect.signature(JOB_KINDS[kind].explainer_class).parameters) for kind in kinds
                if kind in JOB_KINDS]
    return {name: value for name, value in parameters.items()
            if name == "progress" or all(name in names for names in accepted) or value != defaults.get(name)}


def _defaults() -> dict:
    """The defaults of ``explain-many``'s options, as its parser sets them."""
    parser = argparse.ArgumentParser()
    add_explainer_options(parser)
    return vars(parser.parse_args([]))


class MapFigures:
    """Draws the figure of each finished item of an ``explain-many`` run (``--png``), as the results arrive.

    The figure is :func:`~dianna_distance.visualization.plot_distance_map`'s: the image as the model saw it, the
    reference (an image file as a thumbnail, a ``.npy`` by its name, captions as text) and the map over a greyscale
    copy, with the pixels whose sign the run does not establish hatched. It is written whole to
    ``<output>/figures/<map file name>.png``.

    Table-row and series jobs are drawn with :func:`~dianna_distance.visualization.plot_tabular_distance` and
    :func:`~dianna_distance.visualization.plot_timeseries_distance`, one panel per reference, each titled with the
    pair (the job's item vs the reference) and the distance.

    Args:
        output_dir: The run folder.
        pixel_max: Value of a white pixel in the model's input (plain ONNX models).
        distance: The run's distance, named in the figure titles (for table and series figures too).
    """

    def __init__(self, output_dir: Path, pixel_max: float = 1.0, distance: str = "cosine") -> None:
        self.output_dir = output_dir
        self.pixel_max = pixel_max
        self.distance = distance

    def __call__(self, job: Job, result: ItemResult, model: Callable[[np.ndarray], np.ndarray]) -> None:
        """Draw one item's figure (nothing for a failed item)."""
        from dianna_distance.batch import map_file_name
        from dianna_distance.files import write_together
        from dianna_distance.visualization import plot_distance_map

        saliency = result.saliency
        if result.error is not None or saliency is None:  # a failed item has no map
            return
        if job.kind in ("tabular", "timeseries"):
            self._draw_array(job, result, saliency)
            return
        pixels = self._pixels(job.item, model)
        count = 1 if saliency.ndim == 2 else len(saliency)
        references: list[str | Path] | None
        if job.caption is not None:
            references = [job.caption] if isinstance(job.caption, str) else list(job.caption)
        elif isinstance(job.reference, tuple):
            references = [Path(path) for path in job.reference]
        elif isinstance(job.reference, (str, Path)):
            references = [Path(job.reference)] * count
        else:  # an embedding array
            references = None
        titles = self.titles(job, count, result.unmasked_distances)
        folder = self.output_dir / "figures"
        folder.mkdir(exist_ok=True)
        target = folder / (Path(map_file_name(job.id)).stem + ".png")
        spread = float(np.nanmean(result.standard_error)) if result.standard_error is not None else np.nan
        n_masks = result.distances["n_masks"] if result.distances is not None else None

        def save(path: Path) -> None:
            plot_distance_map(saliency, pixels, titles=titles, output_filename=path, references=references,
                              significant=result.significant, n_masks=n_masks,
                              spread=spread if np.isfinite(spread) else None)

        write_together([(target, save)])

    def titles(self, job: Job, count: int, distances: Sequence[float] | None = None) -> list[str]:
        """One title per map: the job's id, the pair and (when known) the distance.

        ``"bee-vs-fly: bee.jpg vs fly.jpg — cosine distance 0.448 (0 to 1)"``.
        """
        from dianna_distance.visualization.common import pair_title, quoted

        item = Path(str(job.item)).name if isinstance(job.item, (str, Path)) else "the item"
        if job.caption is not None:
            labels = [quoted(job.caption)] if isinstance(job.caption, str) else [quoted(c) for c in job.caption]
        elif isinstance(job.reference, tuple):
            labels = [Path(path).name for path in job.reference]
        elif isinstance(job.reference, (str, Path)):
            name = Path(job.reference).name
            labels = [name] if count == 1 else [f"{name}[{k}]" for k in range(count)]
        else:  # an embedding array
            labels = ["the reference"] if count == 1 else [f"reference {k}" for k in range(count)]
        values: Sequence[float | None] = list(distances) if distances is not None else [None] * count
        return [f"{job.id}: {pair_title(item, label, value, self.distance)}" for label, value in zip(labels, values)]

    def _draw_array(self, job: Job, result: ItemResult, saliency: np.ndarray) -> None:
        """A table row's feature bars or a series' panels, titled with the pair (item vs reference) and distance."""
        import matplotlib.pyplot as plt

        from dianna_distance.batch import map_file_name
        from dianna_distance.files import write_together
        from dianna_distance.visualization import plot_tabular_distance, plot_timeseries_distance

        table = job.kind == "tabular"
        names, values = _item_values(job, table)
        count = 1 if saliency.ndim == (1 if table else 2) else len(saliency)
        titles = array_titles(job, count, self.distance, result.unmasked_distances)
        n_masks = result.distances["n_masks"] if result.distances is not None else None
        folder = self.output_dir / "figures"
        folder.mkdir(exist_ok=True)
        target = folder / (Path(map_file_name(job.id)).stem + ".png")

        def save(path: Path) -> None:
            if table:
                figure = plot_tabular_distance(saliency, names, path, title=titles,
                                               standard_error=result.standard_error, significant=result.significant,
                                               n_masks=n_masks, values=values)
            else:
                figure = plot_timeseries_distance(values, saliency, path, titles=titles, channel_names=names,
                                                  standard_error=result.standard_error,
                                                  significant=result.significant, n_masks=n_masks)
            plt.close(figure)

        write_together([(target, save)])

    def _pixels(self, item: str | Path | np.ndarray, model: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The item as the map lies over it: RGB in [0, 1] (channels last or first)."""
        from dianna_distance.model import OnnxModel
        from dianna_distance.models import ImageEncoder

        if isinstance(model, ImageEncoder):  # a preset's encoder: the cropped photograph
            return model.load_image(item)
        if isinstance(item, np.ndarray):
            return item / self.pixel_max
        if not isinstance(model, OnnxModel):
            raise TypeError(f"explain-many --png draws images of ONNX image models, got {type(model).__name__}")
        from dianna_distance.models.image import load_image_for_model

        return load_image_for_model(item, model, self.pixel_max, warn_resize=False) / self.pixel_max


def _item_values(job: Job, table: bool) -> tuple[list[str] | None, np.ndarray]:
    """The item of a table-row or series job as the map lies over it, and its column names."""
    if isinstance(job.item, np.ndarray):
        return None, job.item
    if table:
        from dianna_distance.readers import read_table_csv

        names, rows = read_table_csv(job.item, "item")
        return names, rows[0]
    from dianna_distance.timeseries import read_series

    values, channels = read_series(job.item, "item")
    return channels, values


def array_titles(job: Job, count: int, distance: str, values: Sequence[float] | None = None) -> list[str]:
    """Titles of a table-row or series job's ``count`` maps, as the image figures' are.

    ``"<id>: <item> vs <reference> — <distance> distance <value> (<range>)"`` with the unmasked item's distance to
    each reference (``values``); ``"<id>: <item> vs <reference> (<distance> distance)"`` without.
    """
    from dianna_distance.visualization.common import pair_title

    item = "item" if isinstance(job.item, np.ndarray) else Path(job.item).name
    labels = _reference_labels(job.reference, count)
    if values is None or len(values) != len(labels):
        return [f"{job.id}: {item} vs {label} ({distance} distance)" for label in labels]
    return [f"{job.id}: {pair_title(item, label, value, distance)}" for label, value in zip(labels, values)]


def _reference_labels(reference: object, count: int) -> list[str]:
    """One label per map: each reference file's name, or the file's name and the index of its embedding or row."""
    if isinstance(reference, tuple):
        return [Path(path).name for path in reference]
    name = "reference" if isinstance(reference, np.ndarray) or reference is None else Path(str(reference)).name
    return [name] if count == 1 else [f"{name}[{index}]" for index in range(count)]
