"""``explain-tabular``: which features make a table row close to or far from a reference."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dianna_distance.cli.cluster import add_scheduler_option, check_split, split_map
from dianna_distance.cli.common import (
    add_explainer_options,
    explainer_parameters,
    output_prefix,
    unmasked_distances,
)
from dianna_distance.files import check_output_prefix, read_npy, write_together
from dianna_distance.readers import check_columns
from dianna_distance.tabular import MASK_TYPES, TabularDistanceExplainer, check_float32_rows, read_csv_table

#: The files ``explain-tabular`` writes; an ``--output`` ending in one of them has it dropped.
TABULAR_OUTPUT_SUFFIXES = (".npy", ".json", ".png")

#: What ``explain-tabular`` writes after its prefix: one file of each kind for one reference or K.
OUTPUT_FILES = (".npy", "_se.npy", ".json", ".png")


def explain_tabular_files(
    model: str | Path,
    rows: str | Path,
    row: int,
    output: str | Path | None = None,
    reference: str | Path | None = None,
    reference_rows: Sequence[int] | None = None,
    reference_table: str | Path | None = None,
    training_data: str | Path | None = None,
    categorical_features: Sequence[int] | None = None,
    mask_type: str | float = "mean",
    embedding_output: str | None = None,
    scheduler: str | None = None,
    **explainer_parameters,
) -> list[Path]:
    """Explain which features of a table row make it close to a reference; write the scores, errors and figure.

    Exactly one kind of reference is given: a ``.npy`` embedding ``(D,)`` or ``(K, D)``, row indices of ``rows``
    (each embedded by the model), or a ``.csv`` table of reference rows (each embedded by the model).

    Args:
        model: ONNX file taking rows ``(B, F)``; its first output (or ``embedding_output``) is the embedding.
        rows: ``.csv`` file with a header of feature names and one row per item.
        row: Index of the row to explain (0: the first row after the header).
        output: Output prefix, read as ``explain --output`` is; default ``<rows stem>_row<row>_distance``.
        reference: A ``.npy`` file with the reference embedding(s).
        reference_rows: Indices of rows of ``rows`` to embed as references (one map each).
        reference_table: A ``.csv`` file (same header) whose rows are embedded as references.
        training_data: A ``.csv`` file (same header) of background rows that masked features take values from;
            None: masked features are set to 0 with a warning (or to ``mask_type`` when it is a number).
        categorical_features: Indices of the categorical features.
        mask_type: ``"sample"``, ``"most_frequent"``, ``"mean"`` or a number (see :mod:`dianna_distance.tabular`).
        embedding_output: The ONNX tensor that is the embedding; None: the first output.
        scheduler: A Dask scheduler's address: the masks are embedded on its workers
            (:func:`~dianna_distance.batch.explain_split`) and the scores are those of a local run; their standard
            errors and significance are not computed then (no ``_se.npy``; ``null`` in the ``.json``). The model and
            ``training_data`` files must be readable from the workers.
        **explainer_parameters: Parameters of :class:`~dianna_distance.tabular.TabularDistanceExplainer`.

    Returns:
        The paths written: ``<output>.npy`` (scores ``(F,)`` or ``(K, F)``), ``<output>_se.npy`` (their standard
        errors), ``<output>.json`` (feature names, the row's values, references, scores, standard errors,
        significance, ``n_masks_used``, ``fdr``, ``mask_type``) and ``<output>.png`` (the bar chart). Every path is
        checked before the model runs, and all are written or none.
    """
    exactly_one = "give exactly one of --reference (a .npy embedding), --reference-row (one or more) or " \
                  "--reference-table"
    if sum([reference is not None, bool(reference_rows), reference_table is not None]) != 1:
        raise ValueError(exactly_one)
    names, table = read_csv_table(rows, "rows")
    if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(table):
        raise ValueError(f"--row must be a row index from 0 to {len(table) - 1} of {str(rows)!r}, got {row!r}")
    background = None
    if training_data is not None:
        background_names, background = read_csv_table(training_data, "training data")
        check_columns(background_names, names, f"--training-data {str(training_data)!r}",
                      f"the rows file {str(rows)!r}")
    embedded, reference_values = None, None
    if reference is not None:
        embedded = read_npy(reference, "reference")
        if embedded.ndim not in (1, 2) or not embedded.size:
            raise ValueError(f"reference: {str(reference)!r} must hold an embedding (D,) or K embeddings (K, D), "
                             f"got shape {embedded.shape}")
        labels = [Path(reference).name] if embedded.ndim == 1 else \
            [f"{Path(reference).name}[{k}]" for k in range(len(embedded))]
    elif reference_rows:
        for index in reference_rows:
            if not 0 <= index < len(table):
                raise ValueError(f"--reference-row must be a row index from 0 to {len(table) - 1} of "
                                 f"{str(rows)!r}, got {index}")
        reference_values = table[list(reference_rows)]
        labels = [f"row {index}" for index in reference_rows]
    elif reference_table is not None:
        reference_names, reference_values = read_csv_table(reference_table, "reference table")
        check_columns(reference_names, names, f"--reference-table {str(reference_table)!r}",
                      f"the rows file {str(rows)!r}")
        labels = [f"{Path(reference_table).name} row {index}" for index in range(len(reference_values))]
    else:
        raise ValueError(exactly_one)
    prefix = output_prefix(output, f"{Path(rows).with_suffix('').name}_row{row}_distance", TABULAR_OUTPUT_SUFFIXES)
    paths = check_output_prefix(prefix, OUTPUT_FILES)  # every path, before the model
    explainer = TabularDistanceExplainer(training_data=background, feature_names=names,
                                         categorical_features=categorical_features, mask_type=mask_type,
                                         embedding_output=embedding_output, **explainer_parameters)
    explainer.check_parameters()
    run_model = explainer.load_model(model)
    if reference_values is not None:
        check_float32_rows(reference_values, "reference", names)
        embedded = np.asarray(run_model(reference_values.astype(np.float32)), dtype=np.float64)
    if embedded is None:
        raise ValueError(exactly_one)
    if len(labels) == 1 and np.ndim(embedded) == 2:
        embedded = embedded[0]
    standard_error: np.ndarray | None
    significant: np.ndarray | None
    if scheduler is not None:
        split = {**explainer_parameters, "mask_type": mask_type}
        if training_data is not None:
            split["training_data"] = str(Path(training_data).resolve())
        if categorical_features:
            split["categorical_features"] = ",".join(str(index) for index in categorical_features)
        if embedding_output is not None:
            split["embedding_output"] = embedding_output
        scores = split_map("tabular", table[row], embedded, model, scheduler, split)
        standard_error, significant, n_masks, fdr = None, None, explainer.n_masks, None
    else:
        scores = explainer.attribute(run_model, table[row], embedded)
        standard_error, significant = explainer.standard_error_, explainer.significant_
        n_masks, fdr = explainer.n_masks_used_, float(explainer.fdr_)
    distances = unmasked_distances(explainer, run_model, table[row][None].astype(np.float32), embedded)
    record = {"rows": str(rows), "row": int(row), "feature_names": names, "values": table[row].tolist(),
              "references": labels, "scores": _lists(scores),
              "standard_error": None if standard_error is None else _lists(standard_error),
              "significant": None if significant is None else np.atleast_2d(significant).tolist(),
              "n_masks_used": int(n_masks), "fdr": fdr, "mask_type": _mask_type_done(mask_type, training_data),
              "training_data": None if training_data is None else str(training_data),
              "distances": distances}  # of the unmasked row to each reference
    from dianna_distance.visualization.common import pair_title

    titles = [pair_title(f"{Path(rows).name} row {row}", label, distance, explainer.distance)
              for label, distance in zip(labels, distances)]

    def save_array(array: np.ndarray) -> Callable[[Path], None]:
        def save(path: Path) -> None:
            with open(path, "wb") as file:
                np.save(file, array)

        return save

    def save_json(path: Path) -> None:
        path.write_text(json.dumps(record, indent=1, allow_nan=False, ensure_ascii=False), encoding="utf-8")

    def save_png(path: Path) -> None:
        from dianna_distance.visualization import plot_tabular_distance

        plot_tabular_distance(scores, names, path, title=titles, standard_error=standard_error,
                              significant=significant, n_masks=n_masks, values=table[row])

    npy_path, se_path, json_path, png_path = paths
    writers = [(npy_path, save_array(scores)), (json_path, save_json), (png_path, save_png)]
    if standard_error is not None:
        writers.insert(1, (se_path, save_array(standard_error)))
    return write_together(writers)


def _mask_type_done(mask_type: str | float, training_data: str | Path | None) -> str | float:
    """The fill that was done, for the record.

    Without background rows a named ``mask_type`` cannot be followed: masked features are set to 0 (with a
    warning), so the record says ``0.0``, not the name asked for.
    """
    if training_data is None and isinstance(mask_type, str):
        return 0.0
    return mask_type


def _lists(values: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(value) else float(value) for value in row] for row in np.atleast_2d(values)]


def _mask_type(value: str) -> str | float:
    if value in MASK_TYPES:
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(MASK_TYPES)} or a number, got {value!r}") \
            from None


def _indices(value: str) -> list[int]:
    try:
        return [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated feature indices, got {value!r}") from None


def add_explain_tabular_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``explain-tabular`` subcommand."""
    parser = commands.add_parser("explain-tabular", help="explain which features make a table row close to or far "
                                                         "from a reference (an embedding or other rows)")
    parser.add_argument("model", help="ONNX file taking rows (B, F); its first output is the embedding")
    parser.add_argument("rows", help=".csv file with a header of feature names and one row per item")
    parser.add_argument("--row", type=int, required=True, help="index of the row to explain (0: first after the "
                                                               "header)")
    parser.add_argument("--reference", help="reference embedding(s): a .npy file (D,) or (K, D)")
    parser.add_argument("--reference-row", type=int, action="append",
                        help="index of a row of ROWS embedded as the reference (repeatable: one explanation each)")
    parser.add_argument("--reference-table", help=".csv file (same header) of reference rows, each embedded")
    parser.add_argument("--training-data", help=".csv file (same header) of background rows that masked features "
                                                "take values from (default: none; masked features are 0, with a "
                                                "warning)")
    parser.add_argument("--categorical-features", type=_indices, help="comma-separated indices of categorical "
                                                                      "features")
    parser.add_argument("--mask-type", type=_mask_type, default="mean",
                        help="how masked features are filled: mean (the background's column mean; default), sample "
                             "(a random background row), most_frequent, or a number")
    parser.add_argument("--embedding-output", help="the ONNX tensor that is the embedding (default: first output)")
    parser.add_argument("--output", "-o", help="output prefix, or an existing directory; a .npy/.json/.png suffix is "
                                         "dropped (default: <rows stem>_row<N>_distance here). Writes <output>.npy "
                                         "(scores), <output>_se.npy (their standard errors), <output>.json and "
                                         "<output>.png")
    add_scheduler_option(parser)
    add_explainer_options(parser, TabularDistanceExplainer,
                          meanings={"p_keep": "probability that a feature is kept, in (0, 1]"})


def run_explain_tabular(args: argparse.Namespace) -> list[Path]:
    """Run the ``explain-tabular`` subcommand; returns the paths written (parameters checked before any file)."""
    parameters = explainer_parameters(args, TabularDistanceExplainer, mask_type=args.mask_type)
    check_split(args.scheduler, parameters)
    return explain_tabular_files(args.model, args.rows, args.row, args.output, args.reference, args.reference_row,
                                 args.reference_table, args.training_data, args.categorical_features,
                                 args.mask_type, args.embedding_output, args.scheduler, **parameters)
