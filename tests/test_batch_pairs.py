"""explain_pairs: many pairs written one .npz each, resumed by the contents of both items, failures alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest_text import save_sentence_model, save_wordpiece_tokenizer

from dianna_distance.batch.pair_run import MANIFEST, explain_pairs, read_pair_jobs

PARAMETERS = {"n_masks": 40, "random_state": 0}


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "sentence.onnx"
    save_sentence_model(path, dim=16)
    return {"model_a": str(path), "tokenizer_a": str(save_wordpiece_tokenizer(tmp_path / "tokenizer.json")),
            "tokenizer_b": str(tmp_path / "tokenizer.json")}


@pytest.fixture
def jobs_file(tmp_path):
    (tmp_path / "passage.txt").write_text("a cat sat on the mat", encoding="utf-8")
    path = tmp_path / "jobs.csv"
    path.write_text("id,item_a,item_b\ncar,the red car,passage.txt\nfish,a red fish,the dog sat\n", encoding="utf-8")
    return path


def test_each_job_writes_an_npz_with_its_interactions(tmp_path, model, jobs_file):
    run = explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    assert run.done == ["car", "fish"] and not run.failed
    with np.load(tmp_path / "out" / "car.npz") as saved:
        assert saved["interactions"].shape == (3, 6)
        assert saved["features_b"].tolist() == ["a", "cat", "sat", "on", "the", "mat"]


def test_a_second_run_skips_what_is_done_and_gives_the_same_files(tmp_path, model, jobs_file):
    explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    first = (tmp_path / "out" / "car.npz").read_bytes()
    run = explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    assert run.skipped == ["car", "fish"] and run.done == []
    assert (tmp_path / "out" / "car.npz").read_bytes() == first


def test_a_job_whose_file_changed_is_explained_again_with_a_warning(tmp_path, model, jobs_file):
    explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    (tmp_path / "passage.txt").write_text("the dog sat on a mat", encoding="utf-8")
    with pytest.warns(UserWarning, match="'car': its items changed"):
        run = explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    assert run.changed == ["car"] and run.done == ["car"] and run.skipped == ["fish"]
    with np.load(tmp_path / "out" / "car.npz") as saved:
        assert saved["features_b"].tolist() == ["the", "dog", "sat", "on", "a", "mat"]


def test_other_parameters_in_the_same_folder_are_refused(tmp_path, model, jobs_file):
    explain_pairs(jobs_file, tmp_path / "out", **model, **PARAMETERS)
    with pytest.raises(ValueError, match="other parameters"):
        explain_pairs(jobs_file, tmp_path / "out", **model, **{**PARAMETERS, "n_masks": 50})


def test_a_job_whose_file_is_missing_fails_alone_and_runs_once_the_file_exists(tmp_path, model):
    jobs = [{"id": "missing", "item_a": str(tmp_path / "gone.txt"), "item_b": "the cat"},
            {"id": "ok", "item_a": "the red car", "item_b": "a cat sat"}]
    run = explain_pairs(jobs, tmp_path / "out", **model, **PARAMETERS)
    assert run.done == ["ok"] and "does not exist" in run.failed["missing"]
    (tmp_path / "gone.txt").write_text("a red fish", encoding="utf-8")
    again = explain_pairs(jobs, tmp_path / "out", **model, **PARAMETERS)
    assert again.skipped == ["ok"] and again.done == ["missing"]  # the file's contents are new: a new key
    records = [json.loads(line) for line in (tmp_path / "out" / MANIFEST).read_text().splitlines()]
    assert "header" in records[0] and [record["id"] for record in records[1:]] == ["missing", "ok", "missing"]


def test_a_jobs_file_line_without_item_b_is_named(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("id,item_a\nx,the cat\n", encoding="utf-8")
    with pytest.raises(ValueError, match="job 1: job field 'item_b'"):
        read_pair_jobs(path)
