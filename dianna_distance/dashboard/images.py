"""The Images page: image vs image, image vs caption (ConSE), image vs a ``.npy`` embedding; then explore the run."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import streamlit as st

from dianna_distance.dashboard import common
from dianna_distance.dashboard import explore as explore_

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from dianna_distance.visualization.images import Reference

#: The example pairs, photos shipped inside the package (:func:`dianna_distance.data.example_image`).
EXAMPLES = {"bee vs fly": ("bee.jpg", "fly.jpg"),
            "labradoodle vs labradoodle": ("labradoodle1.jpg", "labradoodle2.jpg")}
MODELS = ("EfficientNet-Lite0 (preset)", "ConSE image–caption (preset)", "upload an ONNX model")
STATE = "images_run"


@st.cache_resource(show_spinner="Loading EfficientNet-Lite0…")
def efficientnet() -> Any:
    """The EfficientNet-Lite0 preset's encoder (one ONNX Runtime session per server)."""
    from dianna_distance.models import load_image_encoder

    return load_image_encoder("efficientnet-lite0")


@st.cache_resource(show_spinner="Loading ConSE (EfficientNet-Lite0 and MiniLM)…")
def conse() -> tuple[Any, Any]:
    """The ConSE preset's image and caption encoders."""
    from dianna_distance.models import load_conse

    return load_conse()


#: The masks the page offers, the paper's grid (the default) or the image's own superpixels (docs/images.md).
MASK_KINDS = {"grid": "grid (the paper's RISE masks)",
              "superpixels": "superpixels (about feature_res² segments that follow the image's edges)"}


def make_explainer(parameters: dict, n_masks: int, extra: dict | None = None) -> Any:
    """A :class:`~dianna_distance.DistanceExplainer` with the page's parameters and ``n_masks`` masks."""
    from dianna_distance import DistanceExplainer

    options = {"axis_labels": {int(parameters.get("channels_axis", 2)): "channels"}, **(extra or {})}
    return DistanceExplainer(n_masks=int(n_masks), feature_res=int(parameters["feature_res"]),
                             p_keep=float(parameters["p_keep"]), random_state=int(parameters["random_state"]),
                             distance=parameters.get("distance", "cosine"),
                             mask_kinds=parameters.get("mask_kinds", "grid"),
                             mask_pairs=parameters.get("mask_pairs", "auto"), progress=False, **options)


@st.cache_resource(max_entries=len(EXAMPLES), show_spinner="Preparing the example images…")
def _example(name: str) -> tuple:
    """An example pair, prepared once per server: image, reference image, its embedding, the explainer's options."""
    from dianna_distance.data import example_image

    image_file, reference_file = EXAMPLES[name]
    encoder = efficientnet()
    image, kwargs = encoder.prepare(example_image(image_file))
    reference_image, _ = encoder.prepare(example_image(reference_file))
    reference = np.atleast_2d(encoder.embed(example_image(reference_file)))
    return image, reference_image, reference, kwargs


def _example_inputs() -> tuple | None:
    name = cast(str, st.selectbox("example pair (EfficientNet-Lite0)", list(EXAMPLES),  # see common.SELECTBOX
                                  key="images_example"))
    image_file, reference_file = EXAMPLES[name]
    image, reference_image, reference, kwargs = _example(name)
    return efficientnet(), image, reference, [reference_file], [reference_image], kwargs, image_file


def _own_inputs() -> tuple | None:
    choice = cast(str, st.selectbox("model", MODELS, key="images_model"))  # see common.SELECTBOX
    image_upload = st.file_uploader("image to explain", type=["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"],
                                    key="images_image")
    kinds = ["reference image(s)", ".npy embedding"] + (["caption(s)"] if choice.startswith("ConSE") else [])
    kind = st.radio("reference", kinds, horizontal=True, key="images_reference_kind")
    model_upload = None
    if choice == MODELS[2]:
        model_upload = st.file_uploader("ONNX model (embeds a batch of images)", type=["onnx"], key="images_onnx")
    reference_uploads: list[UploadedFile] = []
    npy_upload: UploadedFile | None = None
    captions: str | None = None
    if kind == "reference image(s)":
        reference_uploads = st.file_uploader("reference image(s)", accept_multiple_files=True,
                                             key="images_references",
                                             type=["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"])
    elif kind == ".npy embedding":
        npy_upload = st.file_uploader("reference embedding (D,) or (K, D)", type=["npy"], key="images_npy")
    else:
        captions = st.text_area("caption(s), one a line", "a bee\na fly", key="images_captions")
    if (image_upload is None or (choice == MODELS[2] and model_upload is None)
            or (captions is None and npy_upload is None and not reference_uploads)):
        st.info("Upload the image, the reference and (for your own model) the ONNX file.")
        return None
    with common.shown_errors("reading your data"):
        image_path = common.stored_upload(image_upload.getvalue(), Path(image_upload.name).suffix)
        kwargs: dict
        if model_upload is not None:  # the page's third model: an uploaded ONNX file
            from dianna_distance.models import load_image_for_model

            model_bytes = model_upload.getvalue()
            encoder = common.onnx_model(common.file_digest(model_bytes), model_bytes, model_upload.name)
            with common.named_as_uploaded(image_path, image_upload.name):
                image = load_image_for_model(image_path, encoder)
            kwargs = {"axis_labels": {0 if _channels_first(image) else 2: "channels"}}
            embed = (lambda path: encoder(load_image_for_model(path, encoder)[None])[0])  # noqa: E731
        else:
            encoder = efficientnet() if choice == MODELS[0] else conse()[0]
            with common.named_as_uploaded(image_path, image_upload.name):
                image, kwargs = encoder.prepare(image_path)
            embed = (lambda path: encoder.embed(path))  # noqa: E731
        if image.ndim != 3:
            raise common.DashboardInputError(f"the model takes images of shape {image.shape}; the page explains "
                                             f"colour or greyscale images laid out (H, W, C)")
        labels: list[str] = []
        shown: list[Reference] = []
        if captions is not None:
            lines = [line.strip() for line in captions.splitlines() if line.strip()]
            if not lines:
                raise common.DashboardInputError("the captions are empty: write at least one caption")
            reference = np.atleast_2d(conse()[1].encode(lines)).astype(np.float64)
            labels, shown = lines, list(lines)
        elif npy_upload is not None:
            reference = common.read_embedding(npy_upload.getvalue(), npy_upload.name)
            labels = [f"{Path(npy_upload.name).stem}[{i}]" for i in range(len(reference))] if len(reference) > 1 \
                else [Path(npy_upload.name).stem]
            shown = [Path(npy_upload.name)] * len(reference)
        else:
            rows = []
            for upload in reference_uploads:
                path = common.stored_upload(upload.getvalue(), Path(upload.name).suffix)
                with common.named_as_uploaded(path, upload.name):
                    rows.append(np.asarray(embed(path), dtype=np.float64).ravel())
                    shown.append(np.asarray(_thumbnail(upload.getvalue())))
                labels.append(Path(upload.name).stem)
            reference = np.stack(rows)
        probe = np.asarray((kwargs.get("preprocess_function") or (lambda b: b))(image[None]))
        length = np.asarray(encoder(probe)).reshape(1, -1).shape[1]
        common.check_reference_length(reference, length, "the reference")
    return encoder, image, reference, labels, shown, kwargs, image_upload.name


def _channels_first(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3)


def _hwc(image: np.ndarray) -> np.ndarray:
    """The image laid out (H, W, C) for display."""
    return np.moveaxis(image, 0, -1) if _channels_first(image) else image


def _thumbnail(data: bytes) -> Any:
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.thumbnail((256, 256))
    return image


def _draw_map(explainer: Any, image: np.ndarray, titles: list[str], shown: list, overlay: bool) -> Any:
    from dianna_distance.visualization import plot_distance_map

    image = _hwc(image)
    maps = np.asarray(explainer.map_).reshape(-1, *image.shape[:2])
    significant = np.asarray(explainer.significant_).reshape(maps.shape) if overlay else None
    return plot_distance_map(maps, _displayable(image), references=shown or None, titles=titles,
                             significant=significant, n_masks=len(explainer.embeddings_), spread=_spread(explainer),
                             panel_size=2.6)


def _spread(explainer: Any) -> float | None:
    spread = float(np.mean(explainer.standard_error_))
    return spread if np.isfinite(spread) else None


def _displayable(image: np.ndarray) -> np.ndarray:
    low, high = float(np.min(image)), float(np.max(image))
    return image if low >= 0 and high <= 1 else (image - low) / max(high - low, 1e-12)


def _thumbnails(explainer: Any, image: np.ndarray, index: int, count: int = 4) -> tuple[list, list]:
    """The closest and farthest masked images of reference ``index``, as JPEG bytes.

    Encoded once (as ``st.image`` would encode the arrays): a session keeps a few of these lists (see
    :func:`~dianna_distance.dashboard.explore.cached`), and 8 bytes-encoded thumbnails take about 0.1 MB where 8
    float arrays of a 224 × 224 image take 4.8 MB.
    """
    image = _hwc(image)
    positive = np.atleast_2d(explainer.positive_indices_)[index][:count]
    negative = np.atleast_2d(explainer.negative_indices_)[index][-count:]
    shown = _displayable(image)

    def masked(indices: np.ndarray) -> list:
        return [_jpeg(np.clip(shown * np.asarray(explainer.masks_[int(i)]).reshape(*image.shape[:2], 1), 0, 1))
                for i in indices]

    return masked(positive), masked(negative)


def _jpeg(image: np.ndarray) -> bytes:
    """An image of values in [0, 1], (H, W) or (H, W, C), as JPEG bytes."""
    from PIL import Image

    pixels = np.round(np.asarray(image, dtype=np.float64) * 255).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@st.fragment
def explore(widgets: dict | None = None) -> None:
    """After a run: re-selection, significance, histogram, thumbnails and downloads, without the model.

    A fragment: moving a slider reruns this section alone; each figure is drawn once per setting that changes it.

    Args:
        widgets: The parameter widgets' values now (a change since the run is named), or None.
    """
    run = st.session_state.get(STATE)
    if run is None or "labels" not in run:
        return
    explainer, image, labels, shown = run["explainer"], run["inputs"], run["labels"], run["shown"]
    parameters = run["parameters"]
    titles = explore_.pair_titles(run.get("item_name", "image"), labels, parameters)
    st.subheader("Explore the run (no model calls)")
    explore_.show_pair(run.get("item_name", "image"), labels, parameters)
    explore_.show_run(run, widgets)
    selection = common.selection_widgets("images")
    with common.shown_errors("re-selecting the masks"):
        explore_.reselect_once(run, selection)
    figure = explore_.cached(STATE, run, ("map", explore_.figure_key(selection)), lambda: explore_.png(
        lambda: _draw_map(explainer, image, titles, shown, selection["overlay"])))
    st.image(figure)
    histogram, thumbnails = st.columns(2)
    histogram.image(explore_.cached(STATE, run, ("histogram", explore_.ranges_key(selection)), lambda: explore_.png(
        lambda: common.distance_histogram(explainer, selection, labels), dpi=100)))
    masked = explore_.cached(STATE, run, ("thumbnails", explore_.ranges_key(selection)),
                             lambda: [_thumbnails(explainer, image, index) for index in range(len(labels))])
    for label, (closest, farthest) in zip(labels, masked):
        thumbnails.markdown(f"vs **{common.markdown_text(label)}**: the closest masked images (what the positive "
                            "selection saw)")
        thumbnails.image(closest, width=110)
        thumbnails.markdown("and the farthest (the negative selection)")
        thumbnails.image(farthest, width=110)
    left, middle, right = st.columns(3)
    left.download_button("map and standard error (.npz)", lambda: common.map_npz(explainer), "distance_map.npz",
                         key="images_download_npz", on_click="ignore")
    middle.download_button("figure (.png)", figure, "distance_map.png", key="images_download_png", on_click="ignore")
    right.download_button("run file (explore later)",
                          lambda: common.run_file(explainer, image, parameters, labels, "Images", selection),
                          "distance_run.npz", key="images_download_run", on_click="ignore")


def _run_sweep(name: str, values: list, model: Any, image: np.ndarray, reference: np.ndarray, parameters: dict,
               kwargs: dict, n_masks: int) -> None:
    from matplotlib.figure import Figure

    seconds = st.session_state.get(STATE, {}).get("seconds_per_mask")
    cost = f", about {seconds * n_masks * len(values):.0f} s here" if seconds else " (run once to see the cost)"
    st.caption(f"{len(values)} runs of {n_masks} masks{cost}")
    if not st.button(f"run the {name} sweep", key=f"images_sweep_{name}"):
        return
    fig = Figure(figsize=(2.4 * len(values), 2.6), layout="constrained")
    axes = fig.subplots(1, len(values), squeeze=False)[0]
    bar = st.progress(0.0)
    for number, (ax, value) in enumerate(zip(axes, values)):
        explainer = make_explainer({**parameters, name: value}, n_masks, kwargs)
        saliency = np.asarray(explainer.attribute(common.CountingModel(model), image, reference[0]))
        limit = float(np.max(np.abs(saliency))) or 1.0
        ax.imshow(saliency, cmap=common.CMAP, vmin=-limit, vmax=limit)
        ax.set_title(f"{name}={value}", fontsize=9)
        ax.axis("off")
        bar.progress((number + 1) / len(values))
    st.pyplot(fig)


def _embed_item(model: Any, image: np.ndarray, kwargs: dict) -> Callable[[], np.ndarray]:
    """The unmasked image's embedding as the explainer's model sees it (its preprocessing included)."""
    preprocess = kwargs.get("preprocess_function") or (lambda batch: batch)
    return lambda: np.asarray(model(np.asarray(preprocess(image[None]))))


def page() -> None:
    """Draw the Images page."""
    st.header("Images")
    st.write("Why is an image close to, or far from, a reference (another image, a caption or an embedding)? "
             "Red pixels bring the image closer, blue pixels push it away.")
    source = st.radio("data", ["use an example", "use your own data", "open a run file"], horizontal=True,
                      key="images_source")
    widgets = None
    if source == "open a run file":
        upload = st.file_uploader("run file (.npz) saved by this page", type=["npz"], key="images_run_file")
        if upload is not None:
            common.open_run_file(upload, "images", "Images", lambda p, n: make_explainer(p, n), STATE, {"shown": []})
        (running, exploring), clicked = explore_.slots(), False
    else:
        with common.shown_errors("preparing the inputs"):
            prepared = _example_inputs() if source == "use an example" else _own_inputs()
        if prepared is None:
            return
        model, image, reference, labels, shown, kwargs, item_name = prepared
        widgets = common.parameter_widgets("images", mask_kinds=MASK_KINDS)
        parameters = {**widgets, "channels_axis": int(next(iter(kwargs.get("axis_labels", {2: "channels"})))),
                      "item_name": item_name}
        clicked = st.button("Explain", type="primary", key="images_explain")
        running, exploring = explore_.slots()
        if clicked:
            st.session_state.pop(STATE, None)
            exploring.empty()  # the last run's exploration goes at once, never greyed below the new run
            with running.container():
                placeholder = st.empty()

                def draw(explainer: Any) -> None:
                    explainer.significance(common.DEFAULTS["fdr"])
                    titles = explore_.pair_titles(item_name, labels, st.session_state[STATE]["parameters"])
                    placeholder.image(explore_.png(lambda: _draw_map(explainer, image, titles, shown, False)))

                with common.shown_errors("explaining"):
                    common.run_in_blocks(lambda n: make_explainer(parameters, n, kwargs), model, image, reference,
                                         int(parameters["n_masks"]), STATE, draw,
                                         state_extra={"labels": labels, "shown": shown, "parameters": parameters,
                                                      "item_name": item_name},
                                         embed_item=_embed_item(model, image, kwargs))
        with st.expander("Sweeps: p_keep and feature_res (a grid of maps, first reference)"):
            sweep_masks = st.number_input("masks per run", 10, 5000, 1000, step=50, key="images_sweep_masks")
            with common.shown_errors("sweeping"):
                _run_sweep("p_keep", [0.1, 0.3, 0.5, 0.7, 0.9], model, image, reference, parameters, kwargs,
                           int(sweep_masks))
                _run_sweep("feature_res", [2, 4, 8, 16, 32], model, image, reference, parameters, kwargs,
                           int(sweep_masks))
    if clicked:  # the run's progress bar, Stop and partial map go with the run
        running.empty()
    with exploring.container():
        explore(widgets)
