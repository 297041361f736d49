"""Property: whatever the jobs, parameters and options of a batch run, every job ends as the map a direct explanation
gives, or as a failure (a ValueError, TypeError or FileNotFoundError) where a direct explanation fails too; or the
whole run is refused with one of those errors naming the parameter or field at fault, before anything is written. A
re-run keeps every map and reports every failure again."""

from __future__ import annotations

import inspect
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest_batch import SIZE, make_workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dianna_distance import DistanceExplainer
from dianna_distance.batch import JOB_FIELDS, explain_many, load_map, read_manifest
from dianna_distance.model import OnnxModel
from dianna_distance.models.image import load_image_for_model

ALLOWED = (ValueError, TypeError, FileNotFoundError)
SIGNATURE = inspect.signature(DistanceExplainer).parameters
#: What a refusal may name: explainer parameters, job fields, explain_many's own arguments.
NAMES = (*SIGNATURE, *JOB_FIELDS, "job id", "jobs", "model", "output_dir",
         "retry_failed", "pixel_max", "mask_on", "max_in_flight", "text_model", "tokenizer", "preset")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The batch workspace (model, images img0..img3, ref.npy, ref.png), made once for every example."""
    return make_workspace(tmp_path_factory.mktemp("batch-properties"))


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid values nine times in ten, so that most examples reach maps and each bad value is met on its own."""
    return st.sampled_from(range(10)).flatmap(lambda k: invalid if k == 9 else valid)


good_array = st.integers(0, 5).map(lambda seed: np.random.default_rng(seed).random((SIZE, SIZE, 3)))
items = mostly(st.one_of(st.sampled_from(["img0.png", "img1.png", "img2.png", "img3.png"]), good_array),
               st.sampled_from(["missing.png", "ref.npy", 3, "", None, np.zeros((SIZE, SIZE, 3, 1))]))
good_reference = st.one_of(st.sampled_from(["ref.npy", "ref.png", ("ref.npy", "ref.png")]),
                           st.integers(0, 3).map(lambda seed: np.random.default_rng(seed).normal(size=6)))
references = mostly(good_reference, st.sampled_from(["nope.npy", (), {"a": 1}, np.ones(5), "img0.png/x", ".", 2.5]))
ids = mostly(st.text("abAB c/._-é", min_size=1, max_size=6), st.sampled_from([None, "", 1.5, True, 7]))
jobs = st.lists(st.fixed_dictionaries({"id": ids, "item": items, "reference": references}, optional={
    "caption": mostly(st.nothing(), st.sampled_from(["a bee", 5])),
    "kind": mostly(st.just("image"), st.sampled_from(["video", 3, None])),
}), min_size=0, max_size=3)
parameters = st.fixed_dictionaries({  # always n_masks (small: fast) and random_state (a direct map to compare with)
    "n_masks": mostly(st.integers(4, 16), st.sampled_from([0, -1, 2.5, "10", True, 12.0])),
    "random_state": mostly(st.integers(0, 3), st.sampled_from(["seed", -1, 1.5, [1]])),
}, optional={
    "feature_res": mostly(st.integers(2, 5), st.sampled_from([0, 100, 3.0, None])),
    "p_keep": mostly(st.sampled_from([0.3, 0.5, 0.8]), st.sampled_from([0.0, 1.5, "0.5", None])),
    "batch_size": mostly(st.one_of(st.none(), st.integers(1, 8)), st.sampled_from([0, 2.5])),
    "weighting": mostly(st.just("ranges"), st.sampled_from(["rank", 3])),
})
options = st.fixed_dictionaries({}, optional={
    "retry_failed": mostly(st.booleans(), st.sampled_from(["yes", None])),
    "pixel_max": mostly(st.sampled_from([1.0, 2.0]), st.sampled_from([-1.0, "x", float("nan")])),
    "mask_on": st.sampled_from(["pixels", "sideways"]),
    "max_in_flight": st.just(2),
    "text_model": st.just("text.onnx"),
})


def with_paths(folder: Path, job: dict) -> dict:
    """The job with the file names of its item and reference made paths in ``folder``."""
    return {name: absolute(folder, value) if name in ("item", "reference") else value for name, value in job.items()}


def absolute(folder: Path, value: object) -> object:
    """A file name made a path in ``folder`` (other values as they are)."""
    if isinstance(value, str) and value:
        return str(folder / value)
    if isinstance(value, tuple):
        return tuple(absolute(folder, entry) for entry in value)
    return value


def direct_outcome(folder: Path, job: dict, parameters: dict, pixel_max: float) -> np.ndarray | BaseException:
    """The map of a direct explanation of the job, or the exception it raises."""
    try:
        model = OnnxModel(folder / "model.onnx")

        def load(path: str) -> np.ndarray:
            if not Path(path).is_file():
                raise FileNotFoundError(path)
            return load_image_for_model(path, model, pixel_max)

        def reference_of(value: object) -> np.ndarray:
            if isinstance(value, np.ndarray):
                return value
            if isinstance(value, tuple):
                return np.stack([reference_of(entry) for entry in value])
            return np.load(value) if value.endswith(".npy") else model(load(value)[None])[0]

        image = job["item"] if isinstance(job["item"], np.ndarray) else load(job["item"])
        reference = reference_of(job["reference"])
        explainer = DistanceExplainer(axis_labels={2: "channels"}, progress=False, **parameters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return explainer.attribute(model, image, reference)
    except Exception as error:  # noqa: BLE001  (compared with the batch job's recorded error)
        return error


def given_jobs(folder: Path, drawn: list[dict], output: Path, as_file: bool) -> list[dict] | Path:
    """The drawn jobs with paths in ``folder``: as a list, or written to a JSONL file when ``as_file`` allows."""
    made = [with_paths(folder, job) for job in drawn]
    if as_file and not any(isinstance(value, np.ndarray) for job in made for value in job.values()):
        path = output.parent / "jobs.jsonl"
        path.write_text("".join(json.dumps({key: list(value) if isinstance(value, tuple) else value
                                            for key, value in job.items()}) + "\n" for job in made))
        return path
    return made


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(drawn=jobs, parameters=parameters, options=options, as_file=st.booleans())
def test_every_job_ends_as_its_direct_explanation_or_the_run_is_refused_naming_the_parameter(
        folder, drawn, parameters, options, as_file):
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "out"
        given = given_jobs(folder, drawn, output, as_file)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = explain_many(given, folder / "model.onnx", output, progress=False, **options, **parameters)
        except ALLOWED as error:
            assert any(name in str(error) for name in NAMES), error
            assert not output.exists()
            return
        pixel_max = options.get("pixel_max", 1.0)
        expected_parameters = {name: int(value) if isinstance(value, float) and value.is_integer()
                               and type(SIGNATURE[name].default) is int else value
                               for name, value in parameters.items()}  # n_masks=12.0 is n_masks=12
        job_ids = [str(job["id"]) if job.get("id") is not None else str(absolute(folder, job["item"]))
                   for job in drawn]
        assert sorted(run.explained + list(run.failed)) == sorted(job_ids)
        for job_id, job in zip(job_ids, drawn, strict=True):
            expected = direct_outcome(folder, with_paths(folder, job), expected_parameters, pixel_max)
            if job_id in run.explained:
                assert not isinstance(expected, BaseException), (job_id, expected)
                np.testing.assert_array_equal(load_map(output, job_id), expected)
            else:
                recorded = run.failed[job_id]
                assert recorded.split(":")[0] in {kind.__name__ for kind in ALLOWED}, recorded
                assert isinstance(expected, BaseException), (job_id, recorded)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = explain_many(given, folder / "model.onnx", output, progress=False,
                                 **{**options, "retry_failed": False}, **parameters)
        assert again.explained == [] and again.failed == run.failed
        assert sorted(again.skipped) == sorted(job_ids)
        assert set(read_manifest(output)[1]) == set(job_ids)
