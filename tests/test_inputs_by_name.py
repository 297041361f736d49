"""Every input is read by its names, not by its position: one reader per file kind, used by every entry point.

Covers the readers of :mod:`dianna_distance.readers` (series and table ``.csv`` files: byte-order marks, headers,
gaps, pandas' integer header), the refusal of references whose columns are the item's in another order (the
command line, the batch kinds, the dashboard), and batch runs that key background rows by their contents.
"""

from __future__ import annotations

import codecs
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import save_linear_onnx

from dianna_distance.batch import MANIFEST, Job, explain_many
from dianna_distance.cli import main
from dianna_distance.readers import read_csv_numbers, read_series_array, read_table_csv
from dianna_distance.timeseries import read_series

SERIES = np.array([[1.5, 10.0], [2.5, 11.0], [3.5, 12.5], [4.5, 13.0]])


def write_series_csv(path: Path, series: np.ndarray, names: list[str]) -> Path:
    lines = [",".join(names)] + [",".join(repr(float(value)) for value in row) for row in series]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the readers --------------------------------------------------------------------------------------------------

def test_a_series_csv_saved_by_excel_with_a_byte_order_mark_keeps_its_first_time_step(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"1.5,10\r\n2.5,11\r\n3.5,12.5\r\n")

    values, names = read_series(path)

    assert names is None and values.shape == (3, 2)
    np.testing.assert_array_equal(values[0], [1.5, 10.0])


def test_a_byte_order_mark_before_a_header_leaves_the_first_name_clean(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"temperature,pressure\n1.5,10\n")

    assert read_series(path)[1] == ["temperature", "pressure"]


def test_a_first_row_holding_a_number_is_never_a_header(tmp_path):
    (tmp_path / "mixed.csv").write_text("time,2.5\n1,2\n")

    with pytest.raises(ValueError, match="line 1 mixes names and numbers"):
        read_series(tmp_path / "mixed.csv")


@pytest.mark.parametrize("line", [1, 2])
def test_a_gap_is_refused_in_the_first_row_as_in_any_other(tmp_path, line):
    rows = ["1.5,10,7", "2.5,11,8", "3.5,12,9"]
    cells = rows[line - 1].split(",")
    rows[line - 1] = f"{cells[0]},,{cells[2]}"  # "1.5,,7": a first row like this is no header either
    (tmp_path / "gap.csv").write_text("\n".join(rows) + "\n")

    with pytest.raises(ValueError, match=f"line {line}, column 2 is empty"):
        read_series(tmp_path / "gap.csv")


def test_pandas_header_of_integer_column_names_is_a_header(tmp_path):
    pd.DataFrame(SERIES).to_csv(tmp_path / "pandas.csv", index=False)  # header "0,1", values "1.5,10.0"

    values, names = read_series(tmp_path / "pandas.csv")

    assert names == ["0", "1"]
    np.testing.assert_array_equal(values, SERIES)


def test_a_pandas_table_with_integer_column_names_has_a_header(tmp_path):
    pd.DataFrame(SERIES).to_csv(tmp_path / "rows.csv", index=False)

    names, values = read_table_csv(tmp_path / "rows.csv", "rows")

    assert names == ["0", "1"] and values.shape == SERIES.shape


def test_an_integer_first_row_that_may_be_a_header_or_data_is_refused_not_guessed(tmp_path):
    pd.DataFrame(np.array([[3, 4], [5, 6]])).to_csv(tmp_path / "ints.csv", index=False)  # "0,1" over integers

    with pytest.raises(ValueError, match="may be pandas' header of integer column names or the first row of data"):
        read_series(tmp_path / "ints.csv")


def test_a_first_row_of_other_integers_is_data(tmp_path):
    (tmp_path / "counts.csv").write_text("3,4\n5,6\n")

    values, names = read_series(tmp_path / "counts.csv")

    assert names is None and values.tolist() == [[3, 4], [5, 6]]


def test_a_pandas_index_column_is_refused_with_the_fix(tmp_path):
    pd.DataFrame(SERIES, columns=["a", "b"]).to_csv(tmp_path / "indexed.csv")

    with pytest.raises(ValueError, match=r"line 1, column 1 is empty.*index=False"):
        read_series(tmp_path / "indexed.csv")


def test_an_upload_is_read_by_the_same_reader_as_a_file(tmp_path):
    path = write_series_csv(tmp_path / "series.csv", SERIES, ["a", "b"])

    from_file = read_series_array(path)
    from_bytes = read_series_array("upload.csv", data=codecs.BOM_UTF8 + path.read_bytes())

    np.testing.assert_array_equal(from_file[0], from_bytes[0])
    assert from_file[1] == from_bytes[1] == ["a", "b"]


def test_repeated_column_names_are_refused(tmp_path):
    (tmp_path / "twice.csv").write_text("a,a\n1.5,2.5\n")

    with pytest.raises(ValueError, match=r"names the columns \['a'\] more than once"):
        read_csv_numbers(tmp_path / "twice.csv", "rows")


# -- the command line ---------------------------------------------------------------------------------------------

def test_explain_timeseries_refuses_a_reference_series_with_its_channels_in_another_order(tmp_path, capsys):
    model = save_linear_onnx(tmp_path / "series.onnx", (4, 2), embedding_length=3)[0]
    write_series_csv(tmp_path / "item.csv", SERIES, ["temperature", "pressure"])
    write_series_csv(tmp_path / "swapped.csv", SERIES[:, ::-1], ["pressure", "temperature"])

    code = main(["explain-timeseries", str(model), str(tmp_path / "item.csv"), "--reference-series",
                 str(tmp_path / "swapped.csv"), "--n-masks", "20", "--output", str(tmp_path / "out")])

    assert code == 2 and not list(tmp_path.glob("out*"))
    error = capsys.readouterr().err
    assert "the same columns in another order" in error and len(error.strip().splitlines()) == 1


# -- the batch kinds ----------------------------------------------------------------------------------------------

def table_workspace(tmp_path: Path) -> Path:
    save_linear_onnx(tmp_path / "rows.onnx", (3,), embedding_length=4)
    (tmp_path / "item.csv").write_text("a,b,c\n1.0,2.0,3.0\n")
    (tmp_path / "swapped.csv").write_text("c,b,a\n3.5,2.5,1.5\n")
    (tmp_path / "background.csv").write_text("a,b,c\n0.0,1.0,2.0\n1.0,0.5,0.0\n2.0,2.0,1.0\n")
    return tmp_path


def test_a_batch_table_job_refuses_a_reference_table_with_its_columns_in_another_order(tmp_path):
    folder = table_workspace(tmp_path)
    job = Job("row", folder / "item.csv", reference=folder / "swapped.csv", kind="tabular")

    run = explain_many([job], folder / "rows.onnx", folder / "out", progress=False, n_masks=20, random_state=0)

    assert "the same columns in another order" in run.failed["row"]


def test_a_batch_series_job_refuses_a_reference_series_with_its_channels_in_another_order(tmp_path):
    save_linear_onnx(tmp_path / "series.onnx", (4, 2), embedding_length=3)
    write_series_csv(tmp_path / "item.csv", SERIES, ["temperature", "pressure"])
    write_series_csv(tmp_path / "swapped.csv", SERIES[:, ::-1], ["pressure", "temperature"])
    job = Job("series", tmp_path / "item.csv", reference=tmp_path / "swapped.csv", kind="timeseries")

    run = explain_many([job], tmp_path / "series.onnx", tmp_path / "out", progress=False, n_masks=20,
                       random_state=0)

    assert "the same columns in another order" in run.failed["series"]


def test_a_batch_run_explains_again_the_jobs_whose_background_rows_changed_at_the_same_path(tmp_path, monkeypatch):
    folder = table_workspace(tmp_path)
    monkeypatch.chdir(folder)
    job = Job("row", folder / "item.csv", reference=folder / "item.csv", kind="tabular")
    parameters = {"n_masks": 30, "random_state": 0, "training_data": "background.csv", "progress": False}
    first = explain_many([job], "rows.onnx", "out", **parameters)
    (folder / "background.csv").write_text("a,b,c\n9.0,9.0,9.0\n8.0,8.0,8.0\n7.0,7.0,7.0\n")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = explain_many([job], "rows.onnx", "out", **parameters)

    assert first.explained == ["row"] and second.explained == ["row"] and second.changed == ["row"]


def test_a_relative_training_data_path_is_resolved_once_and_recorded(tmp_path, monkeypatch):
    folder = table_workspace(tmp_path)
    monkeypatch.chdir(folder)
    job = Job("row", folder / "item.csv", reference=folder / "item.csv", kind="tabular")

    explain_many([job], "rows.onnx", "out", progress=False, n_masks=20, random_state=0,
                 training_data="background.csv")

    header = json.loads((folder / "out" / MANIFEST).read_text().splitlines()[0])
    assert header["parameters"]["training_data"] == str((folder / "background.csv").resolve())


# -- the dashboard ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("page", "key", "item", "reference"), [
    ("Time series", "timeseries", b"temperature,pressure\n1.5,10\n2.5,11\n3.5,12\n4.5,13\n",
     b"pressure,temperature\n10,1.5\n11,2.5\n12,3.5\n13,4.5\n"),
    # the Tables page takes its reference as another row of the same table (or an embedding), and matches its
    # background rows by name: tests/test_dashboard_ux.py::test_background_rows_with_other_columns_are_refused...
])
def test_a_dashboard_reference_upload_with_its_columns_in_another_order_is_refused_on_the_page(
        tmp_path, page, key, item, reference):
    from streamlit.testing.v1 import AppTest

    from dianna_distance.dashboard import app as dashboard_app

    shape = (4, 2) if key == "timeseries" else (3,)
    model = save_linear_onnx(tmp_path / "model.onnx", shape, embedding_length=3)[0]
    app = AppTest.from_file(dashboard_app.__file__, default_timeout=60)
    app.run()
    app.sidebar.radio(key="page").set_value(page).run()
    app.radio(key=f"{key}_source").set_value("use your own data").run()
    app.radio(key=f"{key}_kind").set_value(app.radio(key=f"{key}_kind").options[1]).run()
    app.file_uploader(key=f"{key}_onnx").upload("model.onnx", model.read_bytes())
    app.file_uploader(key=f"{key}_item").upload("item.csv", item)
    app.file_uploader(key=f"{key}_reference").upload("reference.csv", reference)
    app.run()

    assert not app.exception
    assert any("the same columns in another order" in error.value for error in app.error)
