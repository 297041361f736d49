"""The ``"tabular"`` job kind: a table row explained against reference embeddings or reference rows.

Importing this module registers the kind in :data:`~dianna_distance.batch.jobs.JOB_KINDS` (``batch/__init__``
does). A job of kind ``"tabular"``:

- ``item``: a ``.csv`` file with a header of feature names and **one** row (the row explained), or an array
  ``(F,)``;
- ``reference``: a ``.npy`` embedding ``(D,)`` / ``(K, D)``, a ``.csv`` file (same header) of reference rows that
  the model embeds (one map per row), or an embedding array.

The model is an ONNX file taking rows ``(B, F)``; its first output is the embedding (or the explainer parameter
``embedding_output``, which the run's model spec applies). Explainer parameters are those of
:class:`~dianna_distance.tabular.TabularDistanceExplainer`, as numbers or strings: ``training_data`` is the path of
a ``.csv`` file of background rows (same header; a relative path is taken from the current folder, resolved once
when the run starts and recorded so), ``categorical_features`` a comma-separated string of indices (``"0,4"``).
Each job's key covers the background rows' contents: a run resumed with the same path and other background rows
explains its jobs again. References and background rows are matched to the item by their column names (the same
names in another order are refused, never read by position).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dianna_distance.batch.jobs import JOB_KINDS, Job, JobKind
from dianna_distance.batch.spec import ModelSpec, model_free_parameters
from dianna_distance.batch.worker import PreparedJob, cached_model
from dianna_distance.files import read_npy
from dianna_distance.readers import check_columns, read_table_csv
from dianna_distance.tabular import TabularDistanceExplainer, check_float32_rows


def _explainer(parameters: dict, names: list[str] | None) -> TabularDistanceExplainer:
    parameters = dict(parameters)
    background = parameters.get("training_data")
    if isinstance(background, (str, Path)):
        background_names, parameters["training_data"] = read_table_csv(background, "training_data")
        check_columns(background_names, names, f"training_data {str(background)!r}", "the item")
    categorical = parameters.get("categorical_features")
    if isinstance(categorical, str):
        try:
            parameters["categorical_features"] = [int(item) for item in categorical.split(",") if item.strip()]
        except ValueError:
            raise ValueError(f"categorical_features must be comma-separated feature indices, got {categorical!r}") \
                from None
    if names is not None and parameters.get("feature_names") is None:
        parameters["feature_names"] = names
    return TabularDistanceExplainer(**parameters)


def _prepare_tabular(spec: ModelSpec, job: Job, parameters: dict) -> PreparedJob:
    if isinstance(job.item, np.ndarray):
        names, row = None, job.item
    else:
        names, rows = read_table_csv(job.item, "item")
        if len(rows) != 1:
            raise ValueError(f"item: {str(job.item)!r} must hold one row to explain (a header and one row), got "
                             f"{len(rows)} rows")
        row = rows[0]
    return PreparedJob(_explainer(model_free_parameters(spec, parameters), names), cached_model(spec), row)


def _tabular_reference(spec: ModelSpec, job: Job) -> np.ndarray:
    reference = job.reference
    if reference is None:
        raise ValueError("table-row jobs take a reference (an embedding .npy, a .csv of reference rows, or an array), "
                         "not a caption")
    if isinstance(reference, np.ndarray):
        return reference
    names = None if isinstance(job.item, np.ndarray) else read_table_csv(job.item, "item")[0]
    if isinstance(reference, tuple):
        return np.stack([_reference_file(spec, path, names) for path in reference])
    return _reference_file(spec, reference, names)


def _reference_file(spec: ModelSpec, path: str | Path, names: list[str] | None) -> np.ndarray:
    if str(path).lower().endswith(".npy"):
        return read_npy(path, "reference")
    reference_names, rows = read_table_csv(path, "reference")
    check_columns(reference_names, names, f"reference {str(path)!r}", "the item")
    check_float32_rows(rows, f"reference {str(path)!r}", reference_names)
    embedded = np.asarray(cached_model(spec)(rows.astype(np.float32)), dtype=np.float64)
    return embedded[0] if len(embedded) == 1 else embedded


JOB_KINDS["tabular"] = JobKind(_prepare_tabular, _tabular_reference, path_fields=("item", "reference"),
                               explainer_class=TabularDistanceExplainer)
