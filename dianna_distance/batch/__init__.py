"""Many explanations in one resumable run: locally, one item after another, or as tasks on a Dask cluster.

A run explains a list of jobs, each an *item* (an image file or array) against a *reference* (a ``.npy``
embedding, an image file the model embeds, an embedding array, or captions), with one model and one set of
explainer parameters::

    run = explain_many([Job("bee", "bee.jpg", reference="fly.jpg"), ...], "model.onnx", "maps/",
                       n_masks=1000, random_state=0)

The driver writes each result as it arrives: ``<output_dir>/<file>.npy`` (written under a temporary name, then
renamed into place) and one line in ``<output_dir>/manifest.jsonl``, keyed by the contents of the job's item and
reference(s). Running into the same folder again resumes (see :func:`explain_many`).

The package, by concern:

- :mod:`~dianna_distance.batch.jobs`: what to explain (:class:`Job`, jobs files, the kinds' names, map file names),
  and the types a kind names (:class:`ModelSpec`, :class:`PreparedJob`).
- :mod:`~dianna_distance.batch.spec`: how it is explained (the model's :class:`ModelSpec`, the explainer parameters).
- :mod:`~dianna_distance.batch.worker`: where a job runs (models made once per process, each kind's preparation).
- :mod:`~dianna_distance.batch.manifest`: what was explained (header, per-job keys, the lock, whole writes).
- :mod:`~dianna_distance.batch.cluster`: the Dask client, checked before anything is written.
- :mod:`~dianna_distance.batch.run`: :func:`explain_many`, here or as Dask tasks.
- :mod:`~dianna_distance.batch.split`: :func:`explain_split`, one explanation's masks over a cluster's workers.
- :mod:`~dianna_distance.batch.tabular_kind`: the ``"tabular"`` job kind (a table row; importing it registers it).
- :mod:`~dianna_distance.batch.pair_kind` and :mod:`~dianna_distance.batch.pair_run`: pairs of items (``item_a``,
  ``item_b``), each side with its own model: :func:`explain_pairs`, resumable by both items' contents.

Locally (the default), items run one after another in this process, each explanation using all cores through
ONNX Runtime. With ``client=`` (a :class:`distributed.Client`, a Dask cluster or a scheduler address; ``pip
install dianna-distance[dask]``), items run as tasks on the cluster's workers, one ONNX Runtime session per worker
process (:func:`cached_model`), and the driver writes the results as they complete. Paths in the jobs must then
be readable from the workers (a shared file system) and from the driver, which hashes them. The job kinds are in
:data:`JOB_KINDS`: ``"image"`` (:mod:`~dianna_distance.batch.worker`) and ``"timeseries"``
(:mod:`~dianna_distance.batch.timeseries_kind`).
"""

from dianna_distance.batch import (
    tabular_kind,  # noqa: F401  (registers the "tabular" job kind)
    timeseries_kind,  # noqa: F401  (registers the "timeseries" job kind)
)
from dianna_distance.batch.jobs import (
    JOB_FIELDS,
    JOB_KINDS,
    Job,
    JobKind,
    ModelSpec,
    PreparedJob,
    make_job,
    map_file_name,
    read_jobs,
)
from dianna_distance.batch.manifest import (
    FORMAT_VERSION,
    LOCK,
    MANIFEST,
    STANDARD_ERROR_DIR,
    JobKeys,
    file_sha256,
    load_map,
    read_manifest,
)
from dianna_distance.batch.pair_run import PairBatchRun, PairJob, explain_pairs, read_pair_jobs
from dianna_distance.batch.run import BatchRun, explain_many
from dianna_distance.batch.split import embed_range, explain_split
from dianna_distance.batch.worker import ItemResult, cached_model, run_job

__all__ = [
    "FORMAT_VERSION",
    "JOB_FIELDS",
    "JOB_KINDS",
    "LOCK",
    "MANIFEST",
    "STANDARD_ERROR_DIR",
    "BatchRun",
    "ItemResult",
    "Job",
    "JobKeys",
    "JobKind",
    "ModelSpec",
    "PairBatchRun",
    "PairJob",
    "PreparedJob",
    "cached_model",
    "explain_pairs",
    "embed_range",
    "explain_many",
    "explain_split",
    "file_sha256",
    "load_map",
    "make_job",
    "map_file_name",
    "read_jobs",
    "read_manifest",
    "read_pair_jobs",
    "run_job",
]
