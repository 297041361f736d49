"""The explain-pair command: two texts through a sentence encoder, two images through EfficientNet-Lite0 (a stand-in in
the model cache), what it writes, and bad input as one line before any model loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest_models import save_image_model
from conftest_text import save_sentence_model, save_wordpiece_tokenizer

from dianna_distance.batch.pair_kind import PAIR_ARRAYS
from dianna_distance.cli import main

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
FAST = ["--n-masks", "60", "--random-state", "0", "--no-progress"]
QUERY, PASSAGE = "the red car", "a cat sat on the mat"


@pytest.fixture
def sentence_options(tmp_path):
    model = tmp_path / "sentence.onnx"
    save_sentence_model(model, dim=16)
    tokenizer = save_wordpiece_tokenizer(tmp_path / "tokenizer.json")
    return ["--model-a", str(model), "--model-b", str(model), "--tokenizer-a", str(tokenizer),
            "--tokenizer-b", str(tokenizer)]


def fails_with_one_line(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0]


def test_two_texts_write_both_maps_the_interactions_an_npz_and_a_figure(tmp_path, sentence_options, capsys):
    out = tmp_path / "query"
    assert main(["explain-pair", QUERY, PASSAGE, *sentence_options, "-o", str(out), *FAST]) == 0
    assert sorted(path.name for path in tmp_path.glob("query*")) == [
        "query.npz", "query.png", "query_a.npy", "query_b.npy", "query_interactions.npy"]
    assert np.load(tmp_path / "query_a.npy").shape == (3,)
    assert np.load(tmp_path / "query_b.npy").shape == (6,)
    interactions = np.load(tmp_path / "query_interactions.npy")
    assert interactions.shape == (3, 6)
    with np.load(out.with_suffix(".npz")) as saved:
        assert set(saved.files) == set(PAIR_ARRAYS)
        np.testing.assert_array_equal(saved["interactions"], interactions)
        assert saved["interactions_standard_error"].shape == saved["interactions_significant"].shape == (3, 6)
        assert saved["features_a"].tolist() == ["the", "red", "car"]
    printed = capsys.readouterr().out
    assert "strongest bindings (60 joint samples" in printed and "random_state=0" in printed


def test_the_same_seed_writes_the_same_interactions(tmp_path, sentence_options):
    for name in ("first", "second"):
        assert main(["explain-pair", QUERY, PASSAGE, *sentence_options, "-o", str(tmp_path / name), *FAST]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "first_interactions.npy"),
                                  np.load(tmp_path / "second_interactions.npy"))


def test_two_images_through_a_preset_give_maps_in_the_images_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("DIANNA_DISTANCE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    save_image_model(tmp_path / "cache" / "efficientnet-lite0.onnx", head="softmax", dim=1000)
    out = tmp_path / "photos.png"  # a known suffix is dropped
    assert main(["explain-pair", str(IMAGES / "bee.jpg"), str(IMAGES / "fly.jpg"), "--preset", "efficientnet-lite0",
                 "--feature-res-a", "2", "--feature-res-b", "2", "-o", str(out), *FAST]) == 0
    assert np.load(tmp_path / "photos_a.npy").shape == (224, 224)
    assert np.load(tmp_path / "photos_interactions.npy").shape == (4, 4)
    assert (tmp_path / "photos.png").stat().st_size > 0


def test_an_image_file_that_does_not_exist_is_named(tmp_path, capsys):
    fails_with_one_line(capsys, ["explain-pair", str(tmp_path / "missing.jpg"), "a bee", "--preset", "conse"],
                        "item_a", "missing.jpg", "does not exist")


def test_a_text_model_for_an_image_is_refused_before_it_loads(capsys):
    fails_with_one_line(capsys, ["explain-pair", str(IMAGES / "bee.jpg"), "a bee", "--preset", "minilm"],
                        "--model-a='minilm' embeds texts")


def test_no_model_at_all_is_one_line(capsys):
    fails_with_one_line(capsys, ["explain-pair", QUERY, PASSAGE], "give --preset")


def test_too_few_samples_for_the_features_name_n_masks(tmp_path, sentence_options, capsys):
    fails_with_one_line(capsys, ["explain-pair", QUERY, PASSAGE, *sentence_options, "--n-masks", "5",
                                 "-o", str(tmp_path / "x"), "--no-progress"], "--n-masks must be at least 12")
    assert not list(tmp_path.glob("x*"))


def test_a_weighting_of_the_single_side_explainers_is_refused_by_the_parser(capsys):
    assert main_exit(["explain-pair", QUERY, PASSAGE, "--preset", "minilm", "--weighting", "ranges"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--weighting" in err[0]


def main_exit(argv):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return stopped.value.code
