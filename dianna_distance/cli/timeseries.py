"""``explain-timeseries``: which stretches of a time series make it close to or far from a reference."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.cli.cluster import add_scheduler_option, check_split, split_map
from dianna_distance.cli.common import (
    add_explainer_options,
    explainer_parameters,
    output_paths,
    standard_error_path,
    unmasked_distances,
)
from dianna_distance.files import check_input_file, read_npy, write_together
from dianna_distance.model import OnnxModel
from dianna_distance.readers import check_columns
from dianna_distance.timeseries import TimeSeriesDistanceExplainer, check_series_fits_model, read_series
from dianna_distance.timeseries_masks import MASK_KINDS


def explain_timeseries_files(
    model: str | Path,
    series: str | Path,
    output: str | Path | None = None,
    reference: str | Path | None = None,
    reference_series: Sequence[str | Path] | None = None,
    scheduler: str | None = None,
    **explainer_parameters,
) -> list[Path]:
    """Explain why a series is close to a reference under an ONNX model; write the map, its error and a figure.

    Args:
        model: ONNX file taking ``(N, T, C)`` (``embedding_output`` in the parameters picks an inner tensor).
        series: ``.npy`` or ``.csv`` file (:func:`dianna_distance.timeseries.read_series`).
        output: Where to write, read as ``explain --output`` is; default ``<series stem>_distance``.
        reference: A ``.npy`` file with the reference embedding(s) ``(D,)`` or ``(K, D)``.
        reference_series: Instead of ``reference``: series files embedded by the model (one map each).
        scheduler: A Dask scheduler's address: the masks are embedded on its workers
            (:func:`~dianna_distance.batch.explain_split`), and the map is that of a local run; its standard error
            is not computed then (no ``_se.npy``). The model file must be readable from the workers.
        **explainer_parameters: Parameters of :class:`~dianna_distance.TimeSeriesDistanceExplainer`.

    Returns:
        The paths written together, checked before the model runs: ``<output>.npy`` (the map ``(T, C)`` or
        ``(K, T, C)``), ``<output>_se.npy`` (its standard error; not with ``scheduler``) and ``<output>.png``.
    """
    from dianna_distance.visualization import plot_timeseries_distance

    if bool(reference) == bool(reference_series):
        raise ValueError("give exactly one of --reference (an embedding .npy) or --reference-series (one or more)")
    explainer = TimeSeriesDistanceExplainer(**explainer_parameters)
    explainer.check_parameters()
    check_input_file(model, "model")
    values, names = read_series(series)
    if reference:
        embedded = read_npy(reference, "reference")
        if embedded.ndim not in (1, 2) or not embedded.size:
            raise ValueError(f"reference: {str(reference)!r} must hold an embedding (D,) or K embeddings (K, D), got "
                             f"shape {embedded.shape}")
        labels = ([Path(reference).name] if embedded.ndim == 1
                  else [f"{Path(reference).name}[{k}]" for k in range(len(embedded))])
    else:
        series_paths = list(reference_series or ())  # given: exactly one of the two is, checked above
        references = []
        for path in series_paths:
            reference_values, reference_names = read_series(path, "reference series")
            check_columns(reference_names, names, f"--reference-series {str(path)!r}", f"the series {str(series)!r}")
            references.append(reference_values)
        if any(item.shape != values.shape for item in references):
            raise ValueError(f"reference series must have the series' shape {values.shape}, got "
                             f"{[item.shape for item in references]}")
        labels = [Path(path).name for path in series_paths]
    npy_path, png_path = output_paths(output, series)
    se_path = standard_error_path(npy_path)
    run_model = explainer.load_model(str(model))
    if isinstance(run_model, OnnxModel) and explainer_parameters.get("preprocess_function") is None:
        check_series_fits_model(values.shape, run_model)  # before the reference series are embedded
    if not reference:
        prepare = explainer_parameters.get("preprocess_function") or (lambda batch: batch)
        embedded = np.asarray(run_model(prepare(np.stack(references).astype(np.float32))))
        embedded = embedded[0] if len(references) == 1 else embedded
    if scheduler is not None:
        scores = split_map("timeseries", values, embedded, model, scheduler, split_parameters(explainer_parameters))
        standard_error, significant, n_masks = None, None, explainer.n_masks
    else:
        scores = explainer.attribute(run_model, values, embedded)
        standard_error, significant, n_masks = explainer.standard_error_, explainer.significant_, \
            explainer.n_masks_used_

    from dianna_distance.visualization.common import pair_title

    distances = unmasked_distances(explainer, run_model, values[None].astype(np.float32), embedded)
    titles = [pair_title(Path(series).name, label, distance, explainer.distance)
              for label, distance in zip(labels, distances)]

    def save_array(array: np.ndarray) -> Callable[[Path], None]:
        def save(path: Path) -> None:
            with open(path, "wb") as file:
                np.save(file, array)
        return save

    def save_png(path: Path) -> None:
        import matplotlib.pyplot as plt

        plt.close(plot_timeseries_distance(values, scores, path, titles=titles, channel_names=names,
                                           standard_error=standard_error, significant=significant, n_masks=n_masks))

    writers = [(npy_path, save_array(scores)), (png_path, save_png)]
    if standard_error is not None:
        writers.insert(1, (se_path, save_array(standard_error)))
    return write_together(writers)


def channels_first(batch: np.ndarray) -> np.ndarray:
    """``--channels-first``: a batch of series ``(N, T, C)`` as a channels-first model takes it, ``(N, C, T)``."""
    return np.ascontiguousarray(np.swapaxes(batch, 1, 2))


def split_parameters(parameters: dict) -> dict:
    """The parameters of a run split over a cluster, as a batch run takes them (``mask_kinds`` as one string).

    Raises:
        ValueError: More than one mask kind (a batch run takes ``'auto'`` or one kind).
    """
    kinds = parameters.get("mask_kinds", "auto")
    if isinstance(kinds, tuple):
        if len(kinds) != 1:
            raise ValueError(f"--mask-kinds with --scheduler takes 'auto' or one kind, got {','.join(kinds)!r}")
        parameters = {**parameters, "mask_kinds": kinds[0]}
    return parameters


def add_explain_timeseries_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-timeseries`` subcommand."""
    parser = commands.add_parser("explain-timeseries", help="explain which stretches of a time series make it close "
                                                            "to or far from a reference")
    parser.add_argument("model", help="ONNX file taking a batch of series (N, T, C)")
    parser.add_argument("series", help="the series: .npy (T, C) or (T,), or .csv (one row per time step, one column "
                                       "per channel, optional header)")
    parser.add_argument("--reference", help="reference embedding(s): a .npy file (D,) or (K, D)")
    parser.add_argument("--reference-series", action="append",
                        help="reference series (.npy/.csv) embedded by the model (repeatable: one map each)")
    parser.add_argument("--output", "-o", help="output prefix, file or directory (default: <series>_distance)")
    parser.add_argument("--embedding-output", help="name of an inner tensor of the graph to use as the embedding")
    add_explainer_options(parser, TimeSeriesDistanceExplainer, meanings={
        "feature_res": "random values of a time mask's curve, at least 3 (DIANNA's feature_res); segments masks: "
                       "feature_res * sqrt(T) / 4 segments per channel",
        "p_keep": "probability that a stretch of time (or a channel) is kept, in (0, 1]"})
    parser.add_argument("--mask-kinds", default="auto",
                        help=f"'auto' (independent segments), 'dianna' (DIANNA's choice) or a comma-separated "
                             f"list of {', '.join(MASK_KINDS)}")
    parser.add_argument("--mask-type", default="mean",
                        help="what masked values become: 'mean' (of the series, DIANNA's default) or a number")
    parser.add_argument("--channels-first", action="store_true",
                        help="the model takes (N, C, T), as PyTorch exports Conv1d: every batch (the series' masked "
                             "copies and the reference series) is transposed from (N, T, C) (not with --scheduler)")
    add_scheduler_option(parser)


def run_explain_timeseries(args: argparse.Namespace) -> list[Path]:
    """Run ``explain-timeseries`` from parsed arguments (parameters checked before any file or model)."""
    fixed: dict[str, object] = {"mask_kinds": "auto" if args.mask_kinds == "auto" else tuple(
        kind.strip() for kind in args.mask_kinds.split(","))}
    if args.mask_type == "mean":
        fixed["mask_type"] = "mean"
    else:
        try:
            fixed["mask_type"] = float(args.mask_type)
        except ValueError:
            raise ValueError(f"--mask-type must be 'mean' or a number, got {args.mask_type!r}") from None
    if args.embedding_output is not None:
        fixed["embedding_output"] = args.embedding_output
    if args.channels_first:
        if args.scheduler is not None:
            raise ValueError("--channels-first cannot be combined with --scheduler: the workers feed the model "
                             "(N, T, C) as it is")
        fixed["preprocess_function"] = channels_first
    parameters = {**explainer_parameters(args, TimeSeriesDistanceExplainer, **fixed), **fixed}
    check_split(args.scheduler, parameters)
    if args.scheduler is not None:
        split_parameters(parameters)
    return explain_timeseries_files(args.model, args.series, args.output, args.reference, args.reference_series,
                                    args.scheduler, **parameters)
