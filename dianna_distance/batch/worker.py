"""Where a job runs (the driver, or a Dask worker): models made once per process, each kind's preparation, run_job.

Importing this module registers the ``"image"`` kind in :data:`~dianna_distance.batch.jobs.JOB_KINDS`.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dianna_distance.batch.jobs import JOB_KINDS, Job, JobKind, PreparedJob
from dianna_distance.batch.manifest import DistanceSummary
from dianna_distance.batch.spec import ModelSpec, model_free_parameters
from dianna_distance.image import DistanceExplainer
from dianna_distance.model import OnnxModel

if TYPE_CHECKING:  # imported where used: a worker loads only what its jobs need
    from dianna_distance.models import ImageEncoder, TextEncoder


@dataclass
class ItemResult:
    """What running one job gives back to the driver.

    Attributes:
        id: The job's id.
        saliency: The map ``(H, W)`` or ``(K, H, W)``; None when the job failed.
        distances: Summary of the masked items' distances to the reference(s): ``min``, ``median``, ``max``
            (numbers, or lists of K numbers) and ``n_masks``; None when the job failed.
        seconds: Time the job took where it ran (loading the item and reference, and the explanation).
        error: ``"ExceptionType: message"`` when the job failed, else None.
        standard_error: The map's per-feature standard error (the explainer's ``standard_error_``), the map's
            shape; None when the job failed.
        significant: The features whose sign the run establishes (the explainer's ``significant_``), the map's
            shape; None when the job failed.
        unmasked_distances: The distance of the unmasked item to each reference (for the figure titles of
            ``explain-many --png``): images, table rows and series; None for other kinds of item, and when the job
            failed. Not in the manifest.
    """

    id: str
    saliency: np.ndarray | None
    distances: DistanceSummary | None
    seconds: float
    error: str | None = None
    standard_error: np.ndarray | None = None
    significant: np.ndarray | None = None
    unmasked_distances: list[float] | None = None


# -- models, cached once per process ------------------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_model(spec: ModelSpec, stamp: tuple[int, int]) -> ImageEncoder | OnnxModel:
    if spec.preset is not None:
        from dianna_distance.models import load_image_encoder

        return load_image_encoder(spec.preset, spec.path, mask_on=spec.mask_on, providers=spec.providers,
                                  embedding_output=spec.embedding_output, embedding_pooling=spec.embedding_pooling)
    return OnnxModel(spec.path, providers=spec.providers, embedding_output=spec.embedding_output,
                     embedding_pooling=spec.embedding_pooling)


@functools.lru_cache(maxsize=2)
def _load_text_encoder(text_model: str, tokenizer: str, providers: tuple[str, ...] | None,
                       stamps: tuple[tuple[int, int], ...]) -> TextEncoder:
    from dianna_distance.models import TextEncoder

    return TextEncoder(text_model, tokenizer, providers=providers)


def cached_model(spec: ModelSpec) -> ImageEncoder | OnnxModel:
    """The model of ``spec``, made once per process (one ONNX Runtime session) and reused by every job.

    Returns:
        An :class:`~dianna_distance.models.ImageEncoder` for a preset, else an
        :class:`~dianna_distance.model.OnnxModel`.
    """
    with _CACHE_LOCK:
        return _load_model(spec, _stamp(spec.path))


def cached_text_encoder(spec: ModelSpec) -> TextEncoder:
    """CLIP's text tower of ``spec`` (for caption references), made once per process."""
    if spec.text_model is None or spec.tokenizer is None:
        raise ValueError("the run has no text_model and tokenizer, which caption references need")
    with _CACHE_LOCK:
        return _load_text_encoder(spec.text_model, spec.tokenizer, spec.providers,
                                  (_stamp(spec.text_model), _stamp(spec.tokenizer)))


def _stamp(path: str) -> tuple[int, int]:
    """(modification time, size) of a file: part of the cache keys, so that a replaced file is read again."""
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size


@functools.lru_cache(maxsize=4096)
def _reference_from_file(spec: ModelSpec, path: str, stamp: tuple[int, int]) -> np.ndarray:
    model = cached_model(spec)
    if not isinstance(model, OnnxModel):  # a preset's ImageEncoder
        from dianna_distance.models import load_reference

        return load_reference(path, model) if path.lower().endswith(".npy") else model.embed(path)
    from dianna_distance.models.image import load_reference_for_model

    return np.asarray(load_reference_for_model(path, model, spec.pixel_max, warn_resize=False))


def _reference_file(spec: ModelSpec, path: str | Path) -> np.ndarray:
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"reference file {path!r} does not exist" if not os.path.exists(path) else
                                f"reference {path!r} is not a file")
    return _reference_from_file(spec, path, _stamp(path))


def _image_reference(spec: ModelSpec, job: Job) -> np.ndarray:
    """The job's reference(s) as ``(D,)`` or ``(K, D)``: files or arrays, or captions through CLIP's text tower."""
    if job.caption is not None:
        from dianna_distance.models import check_reference

        text_encoder = cached_text_encoder(spec)
        captions = job.caption if isinstance(job.caption, str) else list(job.caption)
        return check_reference(text_encoder.encode(captions), cached_model(spec), "caption embeddings")
    if isinstance(job.reference, np.ndarray):
        return job.reference
    if isinstance(job.reference, tuple):
        return np.stack([_reference_file(spec, path) for path in job.reference])
    if job.reference is None:
        raise ValueError(f"job {job.id!r} has neither a reference nor a caption")
    return _reference_file(spec, job.reference)


def _prepare_image(spec: ModelSpec, job: Job, parameters: dict) -> PreparedJob:
    parameters = model_free_parameters(spec, parameters)
    model = cached_model(spec)
    if not isinstance(model, OnnxModel):  # a preset's ImageEncoder
        inputs, kwargs = model.prepare(job.item)
    else:
        if isinstance(job.item, np.ndarray):
            inputs = job.item
        else:
            from dianna_distance.models.image import load_image_for_model

            inputs = load_image_for_model(job.item, model, spec.pixel_max, warn_resize=False)
        kwargs = {"axis_labels": {0 if model.input_shape[1] in (1, 3) else 2: "channels"}}
    return PreparedJob(DistanceExplainer(**kwargs, **parameters), model, inputs)


JOB_KINDS["image"] = JobKind(_prepare_image, _image_reference, path_fields=("item", "reference"),
                             explainer_class=DistanceExplainer)


def run_job(spec: ModelSpec, parameters: dict, job: Job) -> ItemResult:
    """Explain one job where it runs (the driver, or a Dask worker); any error is returned, not raised.

    Args:
        spec: The run's model.
        parameters: Explainer parameters.
        job: The job.

    Returns:
        The :class:`ItemResult`.
    """
    start = time.perf_counter()
    try:
        kind = JOB_KINDS[job.kind]
        prepared = kind.prepare(spec, job, parameters)
        reference = kind.reference(spec, job)
        saliency = prepared.explainer.attribute(prepared.model, prepared.inputs, reference)
        distances = _summarise(prepared.explainer.distances_)
        unmasked = (_unmasked_distances(prepared, reference) if job.kind in ("image", "tabular", "timeseries")
                    else None)
        return ItemResult(job.id, saliency, distances, time.perf_counter() - start,
                          standard_error=prepared.explainer.standard_error_,
                          significant=prepared.explainer.significant_, unmasked_distances=unmasked)
    except Exception as error:  # a failed item is recorded and the run goes on
        return ItemResult(job.id, None, None, time.perf_counter() - start, describe_error(error))


def _unmasked_distances(prepared: PreparedJob, reference: np.ndarray) -> list[float]:
    """The distance of the unmasked item (image, table row, series) to each reference (one more model call)."""
    from dianna_distance.distances import compute_distances

    explainer = prepared.explainer
    batch = np.asarray(prepared.inputs)[None]
    preprocess = getattr(explainer, "preprocess_function", None)  # an image explainer's
    if preprocess is not None:
        batch = preprocess(batch)
    embedding = np.asarray(explainer.load_model(prepared.model)(batch), dtype=np.float64)
    return compute_distances(embedding, np.atleast_2d(reference), explainer.distance)[:, 0].tolist()


def _summarise(distances: np.ndarray) -> DistanceSummary:
    """``min``, ``median``, ``max`` of ``(n_masks,)`` or ``(K, n_masks)`` distances (lists for K references)."""
    distances = np.asarray(distances, dtype=np.float64)
    return {"min": np.min(distances, axis=-1).tolist(), "median": np.median(distances, axis=-1).tolist(),
            "max": np.max(distances, axis=-1).tolist(), "n_masks": int(distances.shape[-1])}


def describe_error(error: BaseException) -> str:
    """``"ExceptionType: message"``, as a failed job records it."""
    return f"{type(error).__name__}: {error}"
