"""The ``"timeseries"`` job kind of :func:`~dianna_distance.batch.explain_many` (importing registers it).

A time-series job's item is a series file (``.npy`` ``(T, C)`` or ``(T,)``, or ``.csv``, read by
:func:`~dianna_distance.timeseries.read_series`) or an array ``(T, C)``; its reference is a ``.npy``
embedding ``(D,)`` / ``(K, D)``, a ``.csv`` series the model embeds, a list of such files (one map each), or an
embedding array. The run's model is an ONNX file taking ``(N, T, C)``; the explainer is
:class:`~dianna_distance.TimeSeriesDistanceExplainer` with the run's parameters.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dianna_distance.batch.jobs import JOB_KINDS, Job, JobKind
from dianna_distance.batch.spec import ModelSpec
from dianna_distance.batch.worker import PreparedJob
from dianna_distance.files import read_npy
from dianna_distance.readers import check_columns
from dianna_distance.timeseries import TimeSeriesDistanceExplainer, check_series, read_series

_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load(path: str, stamp: tuple[int, int], providers: tuple[str, ...] | None, embedding_output: str | None
          ) -> Callable[[np.ndarray], np.ndarray]:
    return TimeSeriesDistanceExplainer(providers=providers, embedding_output=embedding_output).load_model(path)


def _model(spec: ModelSpec, embedding_output: str | None) -> Callable[[np.ndarray], np.ndarray]:
    """The run's ONNX model, one session per process (and per embedding tensor)."""
    if spec.preset is not None:
        raise ValueError(f"time-series jobs need a plain ONNX model taking (N, T, C), not the image preset "
                         f"{spec.preset!r}")
    status = os.stat(spec.path)
    with _LOCK:
        return _load(spec.path, (status.st_mtime_ns, status.st_size), spec.providers, embedding_output)


def _read_series(item: str | Path | np.ndarray, name: str) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return check_series(item, name)
    return read_series(item, name)[0]


def _is_series_file(path: str | Path) -> bool:
    return str(path).lower().endswith(".csv")


def _timeseries_reference(spec: ModelSpec, job: Job) -> np.ndarray:
    """``(D,)`` or ``(K, D)``: ``.npy`` embeddings as saved, ``.csv`` series embedded by the model."""
    if job.caption is not None or job.reference is None:
        raise ValueError("time-series jobs take a reference (an embedding .npy, a series .csv, or an array), not a "
                         "caption")
    if isinstance(job.reference, np.ndarray):
        return job.reference
    paths = list(job.reference) if isinstance(job.reference, tuple) else [job.reference]
    names = None if isinstance(job.item, np.ndarray) else read_series(job.item, "item")[1]
    rows = []
    for path in paths:
        if _is_series_file(path):
            series, reference_names = read_series(path, "reference")
            check_columns(reference_names, names, f"reference {str(path)!r}", "the item")
            rows.append(np.asarray(_model(spec, getattr(spec, "embedding_output", None))(
                series[None].astype(np.float32)))[0])
        else:
            rows.append(read_npy(path, "reference"))
    return np.stack(rows) if isinstance(job.reference, tuple) else rows[0]


def _prepare_timeseries(spec: ModelSpec, job: Job, parameters: dict) -> PreparedJob:
    embedding_output = parameters.get("embedding_output") or getattr(spec, "embedding_output", None)
    references = job.reference if isinstance(job.reference, tuple) else (job.reference,)
    if (parameters.get("embedding_output") and embedding_output != getattr(spec, "embedding_output", None)
            and any(isinstance(path, str) and _is_series_file(path) for path in references)):
        raise ValueError("embedding_output as an explainer parameter cannot embed .csv reference series in a batch "
                         "run: give the references as embedding .npy files made with the same tensor")
    explainer = TimeSeriesDistanceExplainer(**parameters)
    return PreparedJob(explainer, _model(spec, embedding_output), _read_series(job.item, "item"))


JOB_KINDS["timeseries"] = JobKind(_prepare_timeseries, _timeseries_reference, path_fields=("item", "reference"),
                                  explainer_class=TimeSeriesDistanceExplainer)
