"""benchmarks/peers.py: every method is charged every row it sends to the model (the planted table, quick mode)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("shap")
pytest.importorskip("lime")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("benchmark_peers", ROOT / "benchmarks" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_table(peers):
    """The quick mode on the planted table only: 3 items at 100 model calls, nothing cached.

    SHAP's PermutationExplainer is left out here: its first call compiles numba code (10-20 s on two busy cores).
    """
    return peers.main(["--quick", "--tasks", "table", "--no-cache", "--peers", "SHAP Kernel", "LIME"])["table"]


def test_the_counter_charges_every_row_and_scores_minus_the_distance(peers):
    reference = np.array([1.0, 0.0])
    counter = peers.Counter(lambda batch: batch, reference, "euclidean")
    scores = counter.score(np.array([[1.0, 0.0], [4.0, 4.0], [1.0, 3.0]]))
    counter.embed(np.zeros((2, 2)))
    assert (counter.rows, counter.calls) == (5, 2)
    assert np.allclose(scores, [0.0, -5.0, -3.0])


def test_quick_mode_charges_every_method_exactly_its_budget_on_the_planted_table(quick_table):
    runs = quick_table["results"][100]
    assert {"ours", "ours-paper", "SHAP Kernel", "LIME"} <= set(runs)
    for method, items in runs.items():
        assert len(items) == 3, method
        assert [item["rows"] for item in items] == [100, 100, 100], method


def test_quick_mode_times_each_method_and_its_model_time_apart(quick_table):
    for method, items in quick_table["results"][100].items():
        for item in items:
            assert 0 < item["model_seconds"] <= item["seconds"], method


def test_shap_kernel_with_the_mean_row_finds_the_planted_features_of_a_linear_embedding(quick_table):
    # a sanity check of the peers' wiring: an exact method on a linear model must find what the model reads
    assert [item["metric"] for item in quick_table["results"][100]["SHAP Kernel"]] == [1.0, 1.0, 1.0]


def test_a_peer_result_is_read_back_from_the_cache_unchanged(peers, tmp_path):
    task = peers.table_task(1)
    first = peers.run_peer(task, task.items[0], 60, "LIME", tmp_path)
    again = peers.run_peer(task, task.items[0], 60, "LIME", tmp_path)
    assert first["rows"] == again["rows"] == 60
    assert np.array_equal(first["map"], again["map"])
    assert len(list(tmp_path.iterdir())) == 1


def test_a_method_that_sends_more_rows_than_its_budget_is_refused(peers):
    task = peers.table_task(1)
    task.peers["greedy"] = lambda task, item, budget, counter: counter.score(np.zeros((budget + 1, 12)))
    with pytest.raises(RuntimeError, match="greedy sent 61 rows to the model for a budget of 60"):
        peers.run_task(task, {60: 1}, peers=["greedy"], log=lambda line: None)


def test_only_shap_permutation_may_stop_short_of_its_budget(peers):
    peers.check_charged("SHAP Permutation", 189, 200)  # 7 whole permutations of 2 * 13 + 1 rows
    with pytest.raises(RuntimeError, match="LIME sent 199 rows"):
        peers.check_charged("LIME", 199, 200)
