"""``--scheduler`` for the single-explanation commands: one explanation's masks spread over a Dask cluster.

:func:`~dianna_distance.batch.explain_split` embeds ranges of the masks on the cluster's workers and makes the map
on this machine; the map is the one a local run with the same parameters and seed makes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: The help of ``--scheduler``, the same on ``explain-many`` and the single-explanation commands.
SCHEDULER_HELP = ("Dask scheduler address (e.g. tcp://host:8786): run on that cluster's workers (needs "
                  "dianna-distance[dask]; the files must be readable from the workers)")


def add_scheduler_option(parser: argparse.ArgumentParser, split: bool = True) -> None:
    """Add ``--scheduler``; ``split``: the masks of the one explanation are spread over the workers."""
    detail = ("; the masks of this one explanation are spread over the workers and the map is the one a local run "
              "with the same --random-state makes (its standard error is not computed: no _se.npy, no hatching); "
              "not with --tolerance") if split else ""
    parser.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP + detail)


#: Why a split run refuses ``--tolerance``.
TOLERANCE_REFUSED = "--tolerance cannot be combined with --scheduler: a split run embeds a fixed --n-masks"


def check_split(scheduler: str | None, parameters: dict) -> None:
    """Refuse what a run spread over a cluster cannot do, before any file is read or model loaded.

    Raises:
        ValueError: ``--tolerance`` with ``--scheduler``, or a ``--scheduler`` that is not an address.
        ConnectionError: A ``--scheduler`` host that is not known.
    """
    if scheduler is not None and parameters.get("tolerance") is not None:
        raise ValueError(TOLERANCE_REFUSED)
    if scheduler is not None:
        from dianna_distance.batch.cluster import check_client

        check_client(scheduler)  # an address that is none, at once, before any file is read


def split_map(kind: str, item: np.ndarray, reference: np.ndarray, model: str | Path, scheduler: str,
              parameters: dict) -> np.ndarray:
    """The map of one explanation of an array item against reference embedding(s), its masks embedded on a cluster.

    Args:
        kind: The job kind (``"timeseries"``, ``"tabular"``).
        item: The item as the explainer takes it (a series ``(T, C)``, a row ``(F,)``): it travels to the workers.
        reference: The reference embedding(s) ``(D,)`` or ``(K, D)``.
        model: The ONNX file (readable from the workers).
        scheduler: The Dask scheduler's address.
        parameters: The explainer parameters, with ``providers`` and ``progress``; values must be numbers,
            strings or None (a batch run's parameters).
    """
    from dianna_distance.batch import Job, explain_split

    check_split(scheduler, parameters)
    parameters = dict(parameters)
    providers = parameters.pop("providers", None)
    job = Job("item", item, reference=reference, kind=kind)
    return explain_split(job, str(Path(model).resolve()), scheduler, providers=providers, **parameters)
