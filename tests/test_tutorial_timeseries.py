"""The time-series tutorial runs top to bottom on its real model and data, and says what its text says."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("statsmodels")

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "timeseries.ipynb"


def test_timeseries_tutorial_runs_and_finds_the_el_nino_peak_behind_the_nearest_window(tmp_path):
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs)
    assert "nearest   1981-10..1984-01" in text  # the 1982-83 El Nino window is the nearest apart
    scores = {line.split()[0]: float(line.split()[3]) for line in text.splitlines()
              if line[:4] in ("1997", "1998", "1999") and "°C" in line}
    assert max(scores, key=scores.get) in ("1998-01", "1998-02", "1998-03", "1998-04")  # the peak months
    assert "DIANNA's explain_timeseries gives the same map: True" in text
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 3
    assert (tmp_path / "elnino_1997_vs_1982.png").is_file()
