"""Write the architecture-exact benchmark models as ONNX files, with random weights, if they are missing.

The cost of a forward pass does not depend on the weights, so no weights are downloaded: the models are built
from their configurations with random initialisation (seeded) and exported with :func:`torch.onnx.export`.

* ``resnet50.onnx``: ResNet50 v1.5 (bottleneck blocks ``[3, 4, 6, 3]``, stride in the 3×3 convolution; the
  architecture of ``microsoft/resnet-50`` and of torchvision's ``resnet50``, 25,557,032 parameters), built with
  ``transformers.ResNetForImageClassification(ResNetConfig(num_labels=1000))``. Input ``pixel_values`` float32
  ``(N, 3, 224, 224)``; output ``logits`` ``(N, 1000)``.
* ``clip_vit_b32_image.onnx``: the image tower of CLIP ViT-B/32 (``openai/clip-vit-base-patch32``),
  ``transformers.CLIPVisionModelWithProjection`` with hidden size 768, 12 layers, 12 heads, patch 32,
  projection 512. Input ``pixel_values`` float32 ``(N, 3, 224, 224)``; output ``image_embeds`` ``(N, 512)``.

The batch axis is dynamic; opset 17. The leafsnap model is not made here: it ships with the project's shared data
(``leafsnap_model.onnx``, input float32 ``(N, 3, 128, 128)``, output ``(N, 30)``).

Usage::

    python benchmarks/make_models.py [--cache-dir benchmarks/models] [--force]

Needs ``torch`` and ``transformers`` (the ``benchmark`` extra).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / "models"
OPSET = 17
RESNET50_FILE = "resnet50.onnx"
CLIP_FILE = "clip_vit_b32_image.onnx"
# torchvision.models.resnet50().num_parameters; the transformers model must match it exactly.
RESNET50_PARAMETERS = 25_557_032
# openai/clip-vit-base-patch32's vision tower plus its visual projection.
CLIP_VISION_PARAMETERS = 87_849_216


def _build_resnet50() -> tuple:
    """ResNet50 v1.5 returning logits; (module, output name, expected number of parameters)."""
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification

    config = ResNetConfig(num_labels=1000)
    if (list(config.depths), config.layer_type, config.downsample_in_bottleneck) != ([3, 4, 6, 3], "bottleneck",
                                                                                     False):
        raise RuntimeError(f"transformers' ResNetConfig defaults are not ResNet50 v1.5: {config}")
    model = ResNetForImageClassification(config)

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.inner(pixel_values=pixel_values).logits

    return Logits(model), "logits", RESNET50_PARAMETERS


def _build_clip_vit_b32() -> tuple:
    """CLIP ViT-B/32 image tower returning image_embeds; (module, output name, expected number of parameters)."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                              image_size=224, patch_size=32, projection_dim=512)
    model = CLIPVisionModelWithProjection(config)

    class ImageEmbeds(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.inner(pixel_values=pixel_values).image_embeds

    return ImageEmbeds(model), "image_embeds", CLIP_VISION_PARAMETERS


BUILDERS = {RESNET50_FILE: _build_resnet50, CLIP_FILE: _build_clip_vit_b32}


def export(builder_name: str, path: Path, seed: int = 0) -> Path:
    """Build one model with random weights and export it to ONNX.

    Args:
        builder_name: Key of :data:`BUILDERS` (the file name).
        path: Where to write the ``.onnx`` file.
        seed: Seed for the random initialisation.

    Returns:
        ``path``.
    """
    import torch

    torch.manual_seed(seed)
    module, output_name, expected_parameters = BUILDERS[builder_name]()
    module.eval()
    n_parameters = sum(p.numel() for p in module.parameters())
    if n_parameters != expected_parameters:
        raise RuntimeError(f"{builder_name}: {n_parameters} parameters, expected {expected_parameters}")
    example = torch.rand(1, 3, 224, 224)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".onnx.partial")
    with torch.no_grad():
        # The TorchScript exporter (dynamo=False) needs no onnxscript and writes a single self-contained file.
        torch.onnx.export(module, (example,), str(partial), input_names=["pixel_values"], output_names=[output_name],
                          dynamic_axes={"pixel_values": {0: "batch"}, output_name: {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    _check_export(partial, module, example)
    partial.replace(path)
    print(f"wrote {path} ({n_parameters:,} parameters, {path.stat().st_size / 2**20:.0f} MB)", file=sys.stderr)
    return path


def _check_export(path: Path, module: object, example: object) -> None:
    """Check that ONNX Runtime gives the torch output, for batches of 1 and 3 (dynamic batch axis)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = torch.cat([example, torch.rand(2, 3, 224, 224)])
    with torch.no_grad():
        expected = module(batch).numpy()
    got = session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0]
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-3, atol=1e-4):
        raise RuntimeError(f"{path}: ONNX Runtime output differs from torch (max abs diff "
                           f"{np.max(np.abs(got - expected)) if got.shape == expected.shape else got.shape})")


def ensure_models(cache_dir: Path = DEFAULT_CACHE_DIR, names: list[str] | None = None, force: bool = False) -> dict:
    """Make the benchmark ONNX files that are missing (or all of them with ``force``).

    Args:
        cache_dir: Directory holding the files.
        names: File names to make (keys of :data:`BUILDERS`); default all.
        force: Re-export files that exist.

    Returns:
        ``{file name: path}`` for the requested models.
    """
    paths = {}
    for name in names or list(BUILDERS):
        path = Path(cache_dir) / name
        if force or not path.is_file():
            export(name, path)
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="where the ONNX files go")
    parser.add_argument("--force", action="store_true", help="re-export files that already exist")
    parser.add_argument("--models", nargs="+", choices=list(BUILDERS), help="which files to make (default all)")
    args = parser.parse_args(argv)
    for path in ensure_models(args.cache_dir, args.models, args.force).values():
        print(path)


if __name__ == "__main__":
    main()
