"""One explanation spread over a Dask cluster: each task embeds a range of the masks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dianna_distance.batch.cluster import check_client, connected
from dianna_distance.batch.jobs import JOB_KINDS, Job, make_job
from dianna_distance.batch.spec import ModelSpec, check_parameters, make_model_spec, with_embedding_output
from dianna_distance.core import auto_batch_size


def explain_split(
    job: Job | Mapping | tuple,
    model: str | Path,
    client: object,
    *,
    preset: str | None = None,
    mask_on: str | None = None,
    pixel_max: float | None = None,
    providers: str | list[str] | None = None,
    text_model: str | Path | None = None,
    tokenizer: str | Path | None = None,
    masks_per_task: int | None = None,
    progress: bool = True,
    **explainer_parameters,
) -> np.ndarray:
    """One explanation whose masks are embedded on a Dask cluster's workers: for a large ``n_masks`` or a slow model.

    Each task embeds a range of masks (:meth:`~dianna_distance.core.MaskedDistanceExplainer.embed_masked`): the
    workers draw those masks themselves from ``random_state`` and the mask index, and only the embeddings travel
    back. The driver then makes the map
    (:meth:`~dianna_distance.core.MaskedDistanceExplainer.attribute_from_embeddings`). The masked batches are the
    ones a local run makes (the automatic batch size is fixed from the whole run, and every task embeds whole
    batches), so the map is that of ``explain_many`` or ``DistanceExplainer.attribute`` with the same parameters.

    Args:
        job: The job (see :func:`make_job`); its paths must be readable from the workers.
        model: As in :func:`explain_many`.
        client: A :class:`distributed.Client`, a Dask cluster or a scheduler address.
        preset: As in :func:`explain_many`.
        mask_on: As in :func:`explain_many`.
        pixel_max: As in :func:`explain_many`.
        providers: As in :func:`explain_many`.
        text_model: As in :func:`explain_many`.
        tokenizer: As in :func:`explain_many`.
        masks_per_task: Masks embedded per task, rounded up to whole batches. Default: about two tasks per
            worker thread.
        progress: Progress bar over masks.
        **explainer_parameters: As in :func:`explain_many`; ``random_state`` must be an int.

    Returns:
        The map ``(H, W)``, or ``(K, H, W)`` for K references.
    """
    job = make_job(job)
    parameters = check_parameters(explainer_parameters, {job.kind})
    check_client(client)
    if parameters.get("tolerance") is not None:
        raise ValueError("explain_split runs a fixed n_masks; tolerance cannot be combined with it")
    random_state = parameters.get("random_state")
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise ValueError(f"explain_split needs an int random_state, so that every worker draws the same masks; "
                         f"got {random_state!r}")
    if masks_per_task is not None and (not isinstance(masks_per_task, int) or isinstance(masks_per_task, bool)
                                       or masks_per_task < 1):
        raise ValueError(f"masks_per_task must be a positive int or None, got {masks_per_task!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    spec = with_embedding_output(make_model_spec(model, preset, mask_on, pixel_max, providers, text_model, tokenizer,
                                                 captions=job.caption is not None), parameters)
    kind = JOB_KINDS[job.kind]
    parameters = {**parameters, "progress": False}
    with connected(client) as client:
        prepared = kind.prepare(spec, job, parameters)
        reference = kind.reference(spec, job)
        n_masks = prepared.explainer.n_masks
        if prepared.explainer.batch_size is None:  # the batches of a local run, whatever the ranges of the tasks
            parameters["batch_size"] = auto_batch_size(int(np.size(prepared.inputs)), n_masks)
            prepared.explainer.batch_size = parameters["batch_size"]
        batch_size = parameters["batch_size"]
        from distributed import as_completed

        if masks_per_task is None:
            masks_per_task = math.ceil(n_masks / max(1, 2 * sum(client.nthreads().values())))
        step = batch_size * math.ceil(masks_per_task / batch_size)
        ranges = {client.submit(embed_range, spec, parameters, job, start, min(start + step, n_masks), pure=False):
                  start for start in range(0, n_masks, step)}
        embeddings: np.ndarray | None = None
        with tqdm(total=n_masks, desc="Explaining", unit="mask", disable=not progress) as bar:
            for future in as_completed(ranges, loop=client.loop):  # the client need not be the default one
                start, chunk = ranges[future], future.result()
                if embeddings is None:
                    embeddings = np.empty((n_masks, chunk.shape[1]))
                embeddings[start : start + len(chunk)] = chunk
                future.release()
                bar.update(len(chunk))
    assert embeddings is not None  # n_masks >= 1 (check_parameters refuses fewer): at least one range ran
    return prepared.explainer.attribute_from_embeddings(prepared.inputs, embeddings, reference)


def embed_range(spec: ModelSpec, parameters: dict, job: Job, start: int, stop: int) -> np.ndarray:
    """A task of :func:`explain_split`: embeddings ``(stop - start, D)`` of the item under masks ``start:stop``."""
    prepared = JOB_KINDS[job.kind].prepare(spec, job, parameters)
    return prepared.explainer.embed_masked(prepared.model, prepared.inputs, start, stop)
