"""The explain-text command: a sentence model with reference texts or a .npy, CLIP with an image, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest_models import save_image_model, save_text_model, save_tokenizer
from conftest_text import WORDPIECE_VOCAB, save_sentence_model, save_wordpiece_tokenizer
from PIL import Image

from dianna_distance.cli import main

FAST = ["--n-masks", "40", "--random-state", "0", "--no-progress"]


@pytest.fixture
def sentence_files(tmp_path):
    model = tmp_path / "sentence.onnx"
    table = save_sentence_model(model, dim=32)
    return model, save_wordpiece_tokenizer(tmp_path / "tokenizer.json"), table


def test_reference_texts_give_one_explanation_each_in_one_file_of_each_kind(tmp_path, sentence_files, capsys):
    model, tokenizer, _ = sentence_files
    (tmp_path / "out").mkdir()  # the output directory must exist (checked before the model runs)
    out = tmp_path / "out" / "words"
    code = main(["explain-text", str(model), "the cat sat on a mat", "--tokenizer", str(tokenizer),
                 "--reference-text", "a cat", "--reference-text", "a red car", "--output", str(out), *FAST])
    assert code == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["words"] == ["the", "cat", "sat", "on", "a", "mat"]
    assert np.load(out.with_suffix(".npy")).shape == (2, 6)
    assert record["offsets"][1] == [4, 7] and record["references"] == ["a cat", "a red car"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "words.html", "words.json", "words.npy", "words.png", "words_se.npy"]  # one file of each kind
    assert out.with_suffix(".html").read_text().count('class="word') == 12
    assert "wrote" in capsys.readouterr().out


def test_npy_reference_is_used_as_given(tmp_path, sentence_files):
    model, tokenizer, table = sentence_files
    np.save(tmp_path / "fish.npy", table[WORDPIECE_VOCAB.index("fish")])
    out = tmp_path / "fish"
    assert main(["explain-text", str(model), "the cat and the fish", "--tokenizer", str(tokenizer),
                 "--reference", str(tmp_path / "fish.npy"), "--output", str(out), *FAST]) == 0
    assert np.load(out.with_suffix(".npy")).shape == (5,)
    assert (tmp_path / "fish.png").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["references"] == ["fish.npy"]


def test_clip_text_tower_is_explained_against_an_image(tmp_path, capsys):
    save_text_model(tmp_path / "clip-text.onnx", dim=4)
    save_image_model(tmp_path / "clip-image.onnx", head="embeds", dim=4)
    tokenizer = save_tokenizer(tmp_path / "tokenizer.json")
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(tmp_path / "bee.jpg")
    out = tmp_path / "caption"
    code = main(["explain-text", str(tmp_path / "clip-text.onnx"), "a photo of a bee", "--tokenizer",
                 str(tokenizer), "--reference-image", str(tmp_path / "bee.jpg"), "--image-model",
                 str(tmp_path / "clip-image.onnx"), "--output", str(out), *FAST])
    assert code == 0, capsys.readouterr().err
    assert json.loads(out.with_suffix(".json").read_text())["references"] == ["bee.jpg"]


def test_reference_image_with_a_sentence_model_is_an_error(tmp_path, sentence_files, capsys):
    model, tokenizer, _ = sentence_files
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.jpg")
    assert main(["explain-text", str(model), "the cat", "--tokenizer", str(tokenizer), "--reference-image",
                 str(tmp_path / "x.jpg"), *FAST]) == 2
    assert "needs a CLIP text tower" in capsys.readouterr().err


@pytest.mark.parametrize("references", [[], ["--reference-text", "a", "--reference", "r.npy"]])
def test_exactly_one_kind_of_reference_is_required(sentence_files, capsys, references):
    model, tokenizer, _ = sentence_files
    assert main(["explain-text", str(model), "the cat", "--tokenizer", str(tokenizer), *references, *FAST]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "exactly one of --reference-text" in error


def test_one_word_text_is_a_one_line_error(sentence_files, capsys):
    model, tokenizer, _ = sentence_files
    assert main(["explain-text", str(model), "cat", "--tokenizer", str(tokenizer), "--reference-text", "a",
                 *FAST]) == 2
    assert "at least two words" in capsys.readouterr().err


def test_reference_of_the_wrong_length_is_a_one_line_error(tmp_path, sentence_files, capsys):
    model, tokenizer, _ = sentence_files
    np.save(tmp_path / "short.npy", np.ones(3))
    assert main(["explain-text", str(model), "the cat", "--tokenizer", str(tokenizer), "--reference",
                 str(tmp_path / "short.npy"), *FAST]) == 2
    assert "--reference has length 3" in capsys.readouterr().err


def test_missing_tokenizer_is_a_one_line_error(sentence_files, capsys):
    model, _, _ = sentence_files
    assert main(["explain-text", str(model), "the cat", "--reference-text", "a", *FAST]) == 2
    assert "--tokenizer is required" in capsys.readouterr().err


def test_every_output_file_is_checked_before_anything_is_written(tmp_path, sentence_files, capsys):
    model, tokenizer, _ = sentence_files
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "words_se.npy").mkdir()  # the standard errors cannot be written
    code = main(["explain-text", str(model), "the cat sat on a mat", "--tokenizer", str(tokenizer),
                 "--reference-text", "a cat", "--reference-text", "a red car", "--output",
                 str(tmp_path / "out" / "words"), *FAST])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert str(tmp_path / "out" / "words_se.npy") in error
    assert "/." not in error  # never a temporary file's name
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["words_se.npy"]  # nothing written


def test_output_that_is_an_existing_directory_gets_text_distance_files_inside_it(tmp_path, sentence_files):
    model, tokenizer, _ = sentence_files
    (tmp_path / "results").mkdir()
    assert main(["explain-text", str(model), "the cat sat", "--tokenizer", str(tokenizer), "--reference-text",
                 "a cat", "--output", str(tmp_path / "results"), *FAST]) == 0
    assert sorted(path.name for path in (tmp_path / "results").iterdir()) == [
        "text_distance.html", "text_distance.json", "text_distance.npy", "text_distance.png", "text_distance_se.npy"]


@pytest.mark.parametrize("suffix", [".npy", ".json", ".html", ".png", ".NPY"])
def test_output_with_a_files_suffix_does_not_double_it(tmp_path, sentence_files, suffix):
    model, tokenizer, _ = sentence_files
    assert main(["explain-text", str(model), "the cat sat", "--tokenizer", str(tokenizer), "--reference-text",
                 "a cat", "--output", str(tmp_path / f"result{suffix}"), *FAST]) == 0
    assert sorted(path.name for path in tmp_path.glob("result*")) == [
        "result.html", "result.json", "result.npy", "result.png", "result_se.npy"]


def test_output_directory_that_does_not_exist_is_a_one_line_error_before_the_model_runs(tmp_path, capsys):
    (tmp_path / "model.onnx").write_text("not a model either")  # the output is checked before the model loads
    code = main(["explain-text", str(tmp_path / "model.onnx"), "the cat", "--tokenizer", "tok.json",
                 "--reference-text", "a", "--output", str(tmp_path / "missing") + "/", *FAST])
    error = capsys.readouterr().err
    assert code == 2 and "missing" in error and "does not exist" in error


def test_default_output_is_text_distance_in_the_current_directory(tmp_path, sentence_files, monkeypatch):
    model, tokenizer, _ = sentence_files
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert main(["explain-text", str(model), "the cat sat", "--tokenizer", str(tokenizer), "--reference-text",
                 "a cat", *FAST]) == 0
    assert (tmp_path / "here" / "text_distance.npy").is_file()


@pytest.mark.parametrize("encoder", ["auto", "sentence", "clip"])
def test_model_file_that_is_not_onnx_is_a_one_line_error(tmp_path, sentence_files, capsys, encoder):
    _, tokenizer, _ = sentence_files
    (tmp_path / "notes.onnx").write_text("this is not a model")
    code = main(["explain-text", str(tmp_path / "notes.onnx"), "the cat", "--tokenizer", str(tokenizer),
                 "--reference-text", "a", "--encoder", encoder, *FAST])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "Traceback" not in error
    assert "notes.onnx" in error and "not a valid ONNX model" in error


@pytest.mark.parametrize("shape", [(), (2, 2, 32)])
def test_npy_reference_that_is_not_one_or_k_embeddings_is_a_one_line_error(tmp_path, sentence_files, capsys, shape):
    model, tokenizer, _ = sentence_files
    np.save(tmp_path / "odd.npy", np.ones(shape))
    assert main(["explain-text", str(model), "the cat", "--tokenizer", str(tokenizer), "--reference",
                 str(tmp_path / "odd.npy"), "--output", str(tmp_path / "odd"), *FAST]) == 2
    error = capsys.readouterr().err
    assert "odd.npy" in error and "(K, D)" in error and error.count("\n") == 1
    assert [path.name for path in tmp_path.glob("odd*")] == ["odd.npy"]  # only the reference itself
