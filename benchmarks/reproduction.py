"""Reproduce the paper's evaluation (Meijer & Bos 2025) on EfficientNet-Lite0; numbers for ``docs/reproduction.md``.

Runs, on the paper's images and EfficientNet-Lite0's ImageNet class probabilities (masking pixels before
normalisation, as the ``efficientnet-lite0`` preset does; masked pixels are black):

1. seed spread (table 2): mean per-pixel standard deviation of maps across seeds at 100, 500 and 2000 masks for
   bee vs fly, flower vs car and dogcar vs car;
2. incremental deletion: most positive first (LoDF), most negative first (HiDF) and random, for bee vs fly and bee
   vs bee2, 1000-mask maps, deleted pixels set to the image's channel mean (as the paper's notebooks 05 and 06);
3. MPRT (top-down, bottom-up, independent) on the ONNX graph, on a subset of its layers, 500 masks;
4. average sensitivity, 500 masks held fixed, with Gaussian noise of 10% of the range (as the paper describes) and
   with Quantus' default uniform noise of +-0.2 on the 0-255 scale, unclipped (what the paper's notebooks 07 and 08
   ran).

Every expensive intermediate (embeddings of masked images, maps, curves) is saved under ``--cache`` as ``.npz``,
so a rerun only redraws and reprints. The masked images of one image do not depend on the reference, so one set of
embeddings serves every pair with that image; and ``RiseMasks`` draws masks in blocks reproducible from the seed,
so the first 100 and 500 of a seed's 2000 masks are the masks of a 100- and a 500-mask run with that seed: the
seed spread embeds 2000 masks per seed and image once.

Usage::

    python benchmarks/reproduction.py                        # the repository's data/images
    python benchmarks/reproduction.py --images DIR --cache /work/cache/repro --figures docs/reproduction
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from dianna_distance import DistanceExplainer, plot_distance_map  # noqa: E402
from dianna_distance import evaluation as ev  # noqa: E402
from dianna_distance.models import ImageEncoder, load_image_encoder  # noqa: E402

DEFAULT_IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"  # the paper's images, in the repository
SEED_PAIRS = (("bee.jpg", "fly.jpg"), ("flower.jpg", "car1.jpg"), ("dogcar.jpg", "car1.jpg"),
              ("dogcar.jpg", "car2.png"))
#: Paper, table 2: mean per-pixel standard deviation of maps across seeds (Keras ResNet50) at N_MASKS_SPREAD.
PAPER_SPREAD = (0.139, 0.064, 0.031)
N_MASKS_SPREAD = (100, 500, 2000)
BEE_REFERENCES = ("fly.jpg", "bee2.jpg")


class Cache:
    """``.npz`` files under a folder: load when present, else compute, save (whole: temp name, then rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, name: str, compute) -> dict[str, np.ndarray]:
        """The arrays saved as ``name``, computed by ``compute() -> dict`` on the first call."""
        path = self.folder / f"{name}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                return dict(data)
        start = time.perf_counter()
        arrays = compute()
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial.npz")
        np.savez_compressed(partial, **arrays)
        os.replace(partial, path)
        print(f"  computed {name} in {time.perf_counter() - start:.0f} s", flush=True)
        return arrays


def masked_embeddings(cache: Cache, encoder: ImageEncoder, images: Path, name: str, seed: int, n_masks: int
                      ) -> np.ndarray:
    """Embeddings ``(n_masks, 1000)`` of image ``name`` masked by the masks of ``random_state=seed``."""
    def compute():
        image, kwargs = encoder.prepare(images / name)
        explainer = DistanceExplainer(n_masks=n_masks, random_state=seed, progress=False, **kwargs)
        return {"embeddings": explainer.embed_masked(encoder, image).astype(np.float32)}

    return cache.get(f"embeddings_{Path(name).stem}_seed{seed}_{n_masks}", compute)["embeddings"]


def distance_map(encoder: ImageEncoder, images: Path, name: str, embeddings: np.ndarray, reference: np.ndarray,
                 seed: int) -> np.ndarray:
    """The map of image ``name`` from the embeddings of its first ``len(embeddings)`` masks of ``seed``."""
    image, kwargs = encoder.prepare(images / name)
    explainer = DistanceExplainer(n_masks=len(embeddings), random_state=seed, progress=False, **kwargs)
    return explainer.attribute_from_embeddings(image, embeddings.astype(np.float64), reference)


def seed_spread(cache, encoder, images, n_seeds, n_masks_list):
    """Table 2: {pair: (spread ddof=1 per n_masks, spread ddof=0 per n_masks)} and the seed-0 maps."""
    results, maps = {}, {}
    for name, reference_name in SEED_PAIRS:
        reference = encoder.embed(images / reference_name)
        per_n = {n: [] for n in n_masks_list}
        for seed in range(n_seeds):
            embeddings = masked_embeddings(cache, encoder, images, name, seed, max(n_masks_list))
            for n in n_masks_list:
                per_n[n].append(distance_map(encoder, images, name, embeddings[:n], reference, seed))
        stacks = [np.stack(per_n[n]) for n in n_masks_list]
        pair = f"{name} vs {reference_name}"
        results[pair] = (np.array([s.std(axis=0, ddof=1).mean() for s in stacks]),
                         np.array([s.std(axis=0, ddof=0).mean() for s in stacks]))
        maps[pair] = stacks[-1][0]
    return results, maps


def deletion(cache, encoder, images, n_steps, n_random, n_masks_list):
    """Incremental deletion of bee vs fly and bee vs bee2 (1000-mask maps of seed 0): {reference: arrays}."""
    image, kwargs = encoder.prepare(images / "bee.jpg")
    embeddings = masked_embeddings(cache, encoder, images, "bee.jpg", 0, max(n_masks_list))[:1000]
    results = {}
    for reference_name in BEE_REFERENCES:
        reference = encoder.embed(images / reference_name)
        attribution = distance_map(encoder, images, "bee.jpg", embeddings, reference, 0)

        def compute(reference=reference, attribution=attribution):
            result = ev.incremental_deletion(
                encoder, image, reference, attribution, n_steps=n_steps, superpixels=1, baseline="mean",
                n_random=n_random, value_range=(0.0, 1.0), random_state=0, progress=False, **kwargs)
            return {"fractions": result.fractions, "lodf": result.lodf, "hidf": result.hidf, "random": result.random,
                    "area_lodf": np.array(result.area_lodf), "area_hidf": np.array(result.area_hidf),
                    "attribution": attribution}

        results[reference_name] = cache.get(
            f"deletion_bee_vs_{Path(reference_name).stem}_{len(embeddings)}_{n_steps}_{n_random}", compute)
    return results


def evenly_spaced_layers(encoder: ImageEncoder, n_layers: int) -> list[str]:
    """``n_layers`` of the graph's randomisable layers, evenly spaced, including the first and the last."""
    names = list(ev.randomisable_layers(encoder.model))
    picks = np.unique(np.round(np.linspace(0, len(names) - 1, n_layers)).astype(int))
    return [names[i] for i in picks]


def mprt(cache, encoder, images, n_layers, n_masks):
    """MPRT of bee vs fly and bee vs bee2 in one pass (two references): arrays incl. per-reference correlations."""
    image, kwargs = encoder.prepare(images / "bee.jpg")
    references = np.stack([encoder.embed(images / name) for name in BEE_REFERENCES])
    layers = evenly_spaced_layers(encoder, n_layers)

    def compute():
        explainer = DistanceExplainer(n_masks=n_masks, random_state=0, progress=False, **kwargs)
        result = ev.model_parameter_randomisation(str(encoder.model), image, references, layers=layers,
                                                  explainer=explainer, random_state=0, progress=False)
        arrays = {"layer_names": np.array(result.layer_names), "original": result.original,
                  "n_layers_total": np.array(len(ev.randomisable_layers(encoder.model)))}
        for mode in ev.MPRT_MODES:
            arrays[f"steps_{mode}"] = np.array(result.steps[mode])
            arrays[f"maps_{mode}"] = result.maps[mode].astype(np.float32)
        return arrays

    arrays = cache.get(f"mprt_bee_{len(layers)}layers_{n_masks}", compute)
    def correlations(transform):
        return {(mode, k): np.array([ev.spearman_correlation(transform(arrays["original"][k]), transform(m))
                                     for m in arrays[f"maps_{mode}"][:, k]])
                for mode in ev.MPRT_MODES for k in range(len(BEE_REFERENCES))}

    # signed maps (this package), and absolute values as Quantus' MPRT compares them by default (abs=True)
    return arrays, correlations(lambda m: m), correlations(np.abs)


def sensitivity(cache, encoder, images, n_masks, samples):
    """Average sensitivity of bee vs fly and bee vs bee2 for both perturbations: {perturbation: (S, 2) values}."""
    image, kwargs = encoder.prepare(images / "bee.jpg")
    references = np.stack([encoder.embed(images / name) for name in BEE_REFERENCES])
    settings = {"gaussian": {"perturbation": "gaussian", "perturb_std": 0.1, "clip": True},
                "uniform": {"perturbation": "uniform", "lower_bound": 0.2 / 255, "clip": False}}
    values = {}
    for perturbation, parameters in settings.items():
        def compute(parameters=parameters, nr_samples=samples[perturbation]):
            explainer = DistanceExplainer(n_masks=n_masks, random_state=0, progress=False, **kwargs)
            result = ev.average_sensitivity(encoder, image, references, nr_samples=nr_samples,
                                            value_range=(0.0, 1.0), explainer=explainer, random_state=0,
                                            progress=False, **parameters)
            per_reference = np.stack([ev.sensitivity_values(result.attribution[k], result.perturbed_attributions[:, k],
                                                            image) for k in range(len(references))], axis=1)
            return {"values": per_reference, "attribution": result.attribution.astype(np.float32)}

        values[perturbation] = cache.get(f"sensitivity_bee_{perturbation}_{samples[perturbation]}_{n_masks}",
                                         compute)["values"]
    return values


def save_png(fig, output: Path, dpi: int = 80) -> None:
    """Save a figure as an optimised palette PNG, written whole (temporary name, then renamed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as picture:
        picture = picture.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    picture.save(partial, format="PNG", optimize=True)
    os.replace(partial, output)
    print(f"  wrote {output} ({output.stat().st_size // 1024} KiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--model", default=None, help="EfficientNet-Lite0 ONNX file (default: exported into the cache)")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/repro"))
    parser.add_argument("--figures", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "reproduction")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--spread-masks", type=int, nargs="+", default=list(N_MASKS_SPREAD))
    parser.add_argument("--deletion-steps", type=int, default=112)
    parser.add_argument("--deletion-random", type=int, default=3)
    parser.add_argument("--mprt-layers", type=int, default=6)
    parser.add_argument("--mprt-masks", type=int, default=500)
    parser.add_argument("--sensitivity-masks", type=int, default=500)
    parser.add_argument("--gaussian-samples", type=int, default=8)
    parser.add_argument("--uniform-samples", type=int, default=20)
    args = parser.parse_args(argv)
    encoder = load_image_encoder("efficientnet-lite0", args.model)
    cache, images = Cache(args.cache), args.images
    started = time.perf_counter()

    print("== Seed spread (paper table 2; spread across seeds, ddof=1 / ddof=0)", flush=True)
    n_masks_list = tuple(args.spread_masks)
    spread, maps = seed_spread(cache, encoder, images, args.seeds, n_masks_list)
    print(f"{'pair':26s}" + "".join(f"{n:>16d}" for n in n_masks_list))
    for pair, (ddof1, ddof0) in spread.items():
        print(f"{pair:26s}" + "".join(f"   {a:.3f} / {b:.3f}" for a, b in zip(ddof1, ddof0)))
    print(f"{'paper (ResNet50, 20 seeds)':26s}" + "".join(f"{p:16.3f}" for p in PAPER_SPREAD))
    coefficients = {pair: float(ddof1 @ (1 / np.sqrt(n_masks_list)) / np.sum(1 / np.array(n_masks_list)))
                    for pair, (ddof1, _) in spread.items()}
    print("fit spread = c / sqrt(n):", {pair: round(c, 2) for pair, c in coefficients.items()},
          "paper:", round(float(np.array(PAPER_SPREAD) @ (1 / np.sqrt(N_MASKS_SPREAD))
                                / np.sum(1 / np.array(N_MASKS_SPREAD))), 2))

    print("== Incremental deletion (bee, 1000-mask maps, deleted pixels -> channel mean)", flush=True)
    deletions = deletion(cache, encoder, images, args.deletion_steps, args.deletion_random, n_masks_list)
    for reference_name, result in deletions.items():
        original = result["lodf"][0]
        relative = {key: result[key] / original - 1 for key in ("lodf", "hidf")}
        random_relative = result["random"].mean(axis=0) / original - 1
        print(f"bee vs {reference_name}: distance of the intact bee {original:.4f}; area LoDF - random "
              f"{float(result['area_lodf']):+.4f}, HiDF - random {float(result['area_hidf']):+.4f}; relative change "
              f"(paper's score) at 10/25/50% deleted: LoDF "
              + " ".join(f"{relative['lodf'][i]:+.3f}" for i in _fraction_indices(result["fractions"]))
              + ", HiDF " + " ".join(f"{relative['hidf'][i]:+.3f}" for i in _fraction_indices(result["fractions"]))
              + ", random " + " ".join(f"{random_relative[i]:+.3f}" for i in _fraction_indices(result["fractions"])))

    print("== MPRT (bee; 500 masks)", flush=True)
    mprt_arrays, correlations, abs_correlations = mprt(cache, encoder, images, args.mprt_layers, args.mprt_masks)
    names = [str(name) for name in mprt_arrays["layer_names"]]
    print(f"{len(names)} of {int(mprt_arrays['n_layers_total'])} layers: {names}")
    for k, reference_name in enumerate(BEE_REFERENCES):
        print(f"bee vs {reference_name}: Spearman correlation with the original map after each step (in the order "
              "of the steps; signed maps | absolute values)")
        for mode in ev.MPRT_MODES:
            print(f"  {mode:12s}" + " ".join(f"{value:+.2f}" for value in correlations[(mode, k)]) + "  |  "
                  + " ".join(f"{value:+.2f}" for value in abs_correlations[(mode, k)]))

    print("Reference levels: Spearman correlation of unshuffled maps with other mask seeds (500 masks, seeds 0-2),"
          " and of the bee vs fly map with the bee vs bee2 map (same masks)")
    for reference_name in BEE_REFERENCES:
        reference = encoder.embed(images / reference_name)
        seed_maps = [distance_map(encoder, images, "bee.jpg", masked_embeddings(
            cache, encoder, images, "bee.jpg", seed, max(n_masks_list))[:args.mprt_masks], reference, seed)
            for seed in range(args.seeds)]
        pairs = [(a, b) for a in range(len(seed_maps)) for b in range(a + 1, len(seed_maps))]
        print(f"  bee vs {reference_name}: other seeds "
              + " ".join(f"{ev.spearman_correlation(seed_maps[a], seed_maps[b]):+.2f}" for a, b in pairs))
    original = mprt_arrays["original"]
    print(f"  bee vs fly map against bee vs bee2 map: {ev.spearman_correlation(original[0], original[1]):+.2f}")

    print("== Average sensitivity (bee, 500 masks held fixed)", flush=True)
    samples = {"gaussian": args.gaussian_samples, "uniform": args.uniform_samples}
    sensitivities = sensitivity(cache, encoder, images, args.sensitivity_masks, samples)
    for perturbation, values in sensitivities.items():
        for k, reference_name in enumerate(BEE_REFERENCES):
            column = values[:, k]
            print(f"{perturbation:8s} bee vs {reference_name:9s}: mean {column.mean():.3f}, median "
                  f"{np.median(column):.3g}, min {column.min():.3g}, max {column.max():.3g}; below 1e-6: "
                  f"{int(np.sum(column < 1e-6))} of {len(column)}")

    draw_figures(args.figures, encoder, images, n_masks_list, spread, maps, deletions, mprt_arrays, correlations,
                 sensitivities)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


def _short_layer_name(name: str) -> str:
    """``/model/_blocks.5/_depthwise_conv/Conv`` -> ``blocks.5 depthwise_conv``."""
    parts = [part.lstrip("_") for part in name.split("/") if part and part != "model"]
    return " ".join(parts[:-1]) if len(parts) > 1 else name


def _fraction_indices(fractions: np.ndarray) -> list[int]:
    return [int(np.argmin(np.abs(fractions - f))) for f in (0.1, 0.25, 0.5)]


def draw_figures(folder, encoder, images, n_masks_list, spread, maps, deletions, mprt_arrays, correlations,
                 sensitivities):
    """The figures of ``docs/reproduction.md``."""
    # seed spread against the paper's table 2
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for pair, (ddof1, _) in spread.items():
        ax.loglog(n_masks_list, ddof1, "o-", label=f"{pair} (EfficientNet-Lite0)")
    ax.loglog(N_MASKS_SPREAD, PAPER_SPREAD, "k--s", label="paper, table 2 (ResNet50)")
    ax.set_xlabel("number of masks")
    ax.set_ylabel("mean per-pixel std across seeds")
    ax.legend(fontsize=6)
    fig.tight_layout()
    save_png(fig, folder / "seed_spread.png")

    # the seed-0 maps at 2000 masks
    pairs = list(maps)
    fig, axes = plt.subplots(1, len(pairs), figsize=(2.2 * len(pairs), 2.4))
    for ax, pair in zip(axes, pairs):
        plot_distance_map(maps[pair], encoder.load_image(images / pair.split(" vs ")[0]), titles=[pair], axes=[ax])
        ax.title.set_fontsize(7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save_png(fig, folder / "maps.png")

    # deletion curves, as the paper plots them: relative change of the distance
    fig, axes = plt.subplots(1, len(deletions), figsize=(4.2 * len(deletions), 3.0))
    for ax, (reference_name, result) in zip(axes, deletions.items()):
        original = result["lodf"][0]
        ax.plot(result["fractions"], result["lodf"] / original - 1, color="tab:red", label="most positive first (LoDF)")
        ax.plot(result["fractions"], result["hidf"] / original - 1, color="tab:blue",
                label="most negative first (HiDF)")
        for index, curve in enumerate(result["random"]):
            ax.plot(result["fractions"], curve / original - 1, color="grey", lw=0.8,
                    label="random" if index == 0 else None)
        ax.axhline(0, color="black", lw=0.5)
        if np.max(np.abs(result["random"] / original - 1)) > 10:
            ax.set_yscale("symlog", linthresh=1)
        ax.set_title(f"bee vs {reference_name} (intact: distance {original:.4f})", fontsize=9)
        ax.set_xlabel("fraction of pixels deleted (set to the channel mean)", fontsize=8)
        ax.set_ylabel("distance / intact distance - 1", fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_png(fig, folder / "deletion.png")

    # MPRT correlations
    names = [str(name) for name in mprt_arrays["layer_names"]]
    fig, axes = plt.subplots(1, len(BEE_REFERENCES), figsize=(4.4 * len(BEE_REFERENCES), 3.6), sharey=True)
    for k, (ax, reference_name) in enumerate(zip(axes, BEE_REFERENCES)):
        for mode in ev.MPRT_MODES:
            steps = [str(s) for s in mprt_arrays[f"steps_{mode}"]]
            by_layer = [correlations[(mode, k)][steps.index(name)] for name in names]
            ax.plot(range(1, len(names) + 1), by_layer, "o-", label=mode.replace("_", "-"))
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"bee vs {reference_name}", fontsize=9)
        ax.set_xticks(range(1, len(names) + 1), [_short_layer_name(name) for name in names], rotation=35,
                      ha="right", fontsize=7)
        ax.set_xlabel("layer shuffled (input side left)", fontsize=8)
        ax.set_ylabel("Spearman correlation with original", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, folder / "mprt.png")

    # sensitivity values per sample
    fig, ax = plt.subplots(figsize=(4.6, 3.0))
    for perturbation, marker in (("gaussian", "o"), ("uniform", "x")):
        for k, reference_name in enumerate(BEE_REFERENCES):
            values = sensitivities[perturbation][:, k]
            ax.plot(np.arange(1, len(values) + 1), np.maximum(values, 1e-9), marker, ls="none",
                    label=f"{perturbation}, bee vs {reference_name}")
    ax.set_yscale("log")
    ax.set_xlabel("noisy sample")
    ax.set_ylabel("||a - a_s|| / ||a|| (0 drawn at 1e-9)")
    ax.legend(fontsize=6)
    fig.tight_layout()
    save_png(fig, folder / "sensitivity.png")


if __name__ == "__main__":
    raise SystemExit(main())
