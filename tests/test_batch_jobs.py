"""Jobs files and job specs: CSV (also with a byte-order mark) and JSONL read as written; a bad line or field is
named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_batch import PARAMETERS, make_workspace

from dianna_distance.batch import JOB_KINDS, Job, JobKeys, ModelSpec, explain_many, load_map, make_job, read_jobs


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a small ONNX model, images and references (see :func:`conftest_batch.make_workspace`)."""
    return make_workspace(tmp_path)


def test_csv_jobs_resolve_paths_against_the_jobs_file(workspace):
    (workspace / "jobs").mkdir()
    (workspace / "jobs" / "jobs.csv").write_text("id,item,reference\nbee,../img0.png,../ref.npy\n,../img1.png,"
                                                 "../ref.png\n")
    jobs = read_jobs(workspace / "jobs" / "jobs.csv")

    assert [job.id for job in jobs] == ["bee", "../img1.png"]
    assert jobs[0].item == str(workspace / "img0.png") and jobs[1].reference == str(workspace / "ref.png")


def test_jsonl_jobs_take_lists_of_references_and_captions(workspace):
    lines = [{"id": "a", "item": "img0.png", "reference": ["ref.npy", "ref.png"]},
             {"id": "b", "item": "img1.png", "caption": ["a bee", "a fly"]}]
    (workspace / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    first, second = read_jobs(workspace / "jobs.jsonl")

    assert first.reference == (str(workspace / "ref.npy"), str(workspace / "ref.png"))
    assert second.caption == ("a bee", "a fly") and second.reference is None


def test_a_bad_jobs_line_is_named(workspace):
    (workspace / "jobs.csv").write_text("id,item,reference,caption\na,img0.png,ref.npy,a bee\n")
    with pytest.raises(ValueError, match=r"jobs\.csv' line 2: .*exactly one of reference and caption"):
        read_jobs(workspace / "jobs.csv")


def test_make_job_accepts_pairs_and_rejects_unknown_fields(workspace):
    job = make_job((workspace / "img0.png", workspace / "ref.npy"))
    assert job.id == str(workspace / "img0.png") and job.kind == "image"
    with pytest.raises(ValueError, match="unknown job field"):
        make_job({"item": "x.png", "reference": "r.npy", "label": 3})



def test_a_csv_saved_with_a_byte_order_mark_is_read(workspace):
    (workspace / "jobs.csv").write_bytes("id,item,reference\r\nbee,img0.png,ref.npy\r\n".encode("utf-8-sig"))

    jobs = read_jobs(workspace / "jobs.csv")
    run = explain_many(jobs, workspace / "model.onnx", workspace / "out", progress=False, **PARAMETERS)

    assert [job.id for job in jobs] == ["bee"] and jobs[0].item == str(workspace / "img0.png")
    assert run.explained == ["bee"] and load_map(workspace / "out", "bee").shape == (16, 16)


def test_an_unknown_csv_column_is_named_even_when_empty(workspace):
    (workspace / "jobs.csv").write_text("id,item,reference,label\nbee,img0.png,ref.npy,\n")

    with pytest.raises(ValueError, match=r"jobs\.csv' line 1: unknown column\(s\) \['label'\]"):
        read_jobs(workspace / "jobs.csv")


def test_a_csv_row_with_more_fields_than_columns_is_named(workspace):
    (workspace / "jobs.csv").write_text("id,item,reference\nbee,img0.png,ref.npy\nfly,img1.png,ref.npy,extra\n")

    with pytest.raises(ValueError, match=r"jobs\.csv' line 3: 4 fields, but the header has 3 columns"):
        read_jobs(workspace / "jobs.csv")


def test_a_jobs_file_that_is_not_utf8_is_named_with_its_line(workspace):
    (workspace / "jobs.csv").write_bytes(b"id,item,reference\nbee,img\xff.png,ref.npy\n")

    with pytest.raises(ValueError, match=r"jobs\.csv' line 2: not UTF-8"):
        read_jobs(workspace / "jobs.csv")


@pytest.mark.parametrize(("fields", "error", "field"), [
    ({"item": 3, "reference": "ref.npy"}, TypeError, "item"),
    ({"item": ["img0.png"], "reference": "ref.npy"}, TypeError, "item"),
    ({"item": "img0.png", "reference": {"path": "ref.npy"}}, TypeError, "reference"),
    ({"item": "img0.png", "reference": []}, TypeError, "reference"),
    ({"item": "img0.png", "reference": ["ref.npy", 2]}, TypeError, "reference"),
    ({"item": "img0.png", "caption": 5}, TypeError, "caption"),
    ({"item": "img0.png", "caption": []}, TypeError, "caption"),
    ({"item": "img0.png", "caption": ["a bee", None]}, TypeError, "caption"),
    ({"item": "img0.png", "reference": "ref.npy", "kind": ["image"]}, ValueError, "kind"),
    ({"item": "img0.png", "reference": "ref.npy", "kind": "video"}, ValueError, "kind"),
    ({"item": "img0.png", "reference": "ref.npy", "id": 1.5}, TypeError, "id"),
    ({"item": "img0.png", "reference": "ref.npy", "id": True}, TypeError, "id"),
    ({"item": "img0.png", "reference": "ref.npy", "label": 3}, ValueError, "label"),
    ({"reference": "ref.npy"}, ValueError, "item"),
], ids=lambda value: json.dumps(value) if isinstance(value, dict) else str(value))
def test_a_jsonl_field_of_the_wrong_type_is_named_with_its_line(workspace, fields, error, field):
    lines = [{"id": "ok", "item": "img1.png", "reference": "ref.npy"}, fields]
    (workspace / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    with pytest.raises(error, match=rf"jobs\.jsonl' line 2: .*'{field}'"):
        read_jobs(workspace / "jobs.jsonl")


def test_a_jsonl_line_that_is_not_an_object_is_named(workspace):
    (workspace / "jobs.jsonl").write_text('["img0.png", "ref.npy"]\n')

    with pytest.raises(ValueError, match=r"jobs\.jsonl' line 1: a job must be a JSON object"):
        read_jobs(workspace / "jobs.jsonl")


def test_a_job_given_in_python_names_its_bad_field():
    with pytest.raises(TypeError, match="job field 'reference'"):
        make_job(Job("a", "img0.png", reference=3))


def test_a_repeated_id_in_a_jobs_file_is_named_with_both_lines(workspace):
    (workspace / "jobs.csv").write_text("id,item,reference\nbee,img0.png,ref.npy\nfly,img1.png,ref.npy\n"
                                        "bee,img2.png,ref.npy\n")

    with pytest.raises(ValueError, match=r"jobs\.csv' line 4: job id 'bee' occurs more than once \(also on line 2\)"):
        read_jobs(workspace / "jobs.csv")


def test_keying_a_caption_job_without_a_text_tower_is_a_value_error_naming_what_is_missing(workspace):
    job = make_job({"id": "a", "item": "img0.png", "caption": "a bee"}, base=workspace)
    keys = JobKeys(ModelSpec(str(workspace / "model.onnx")))  # a spec made without text_model and tokenizer

    with pytest.raises(ValueError, match="job 'a' has a caption, but the run's model spec has no text_model and "
                                         "tokenizer"):
        keys.key(job)


def test_a_table_row_job_with_a_caption_is_refused_naming_the_caption(workspace):
    (workspace / "row.csv").write_text("a,b\n1,2\n")
    job = make_job({"id": "r", "item": "row.csv", "caption": "a bee", "kind": "tabular"}, base=workspace)

    with pytest.raises(ValueError, match="table-row jobs take a reference .*, not a caption"):
        JOB_KINDS["tabular"].reference(ModelSpec(str(workspace / "model.onnx")), job)
