"""The paper's ten photographs ship with the repository (``data/images``), credited, and the scripts find them there."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dianna_distance.models import read_image

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "data" / "images"
NAMES = ("bee.jpg", "bee2.jpg", "fly.jpg", "bike.jpg", "car1.jpg", "car2.png", "dogcar.jpg", "flower.jpg",
         "labradoodle1.jpg", "labradoodle2.jpg")


def load_script(name: str):
    """A module of benchmarks/ loaded from its file (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_each_paper_image_is_an_rgb_photograph_of_at_most_512_pixels_with_a_side_of_at_least_256(name):
    pixels = read_image(IMAGES / name)
    assert pixels.shape[2] == 3
    assert max(pixels.shape[:2]) <= 512
    assert min(pixels.shape[:2]) >= 256  # the presets resize the shorter side to 224 or 256: never upsampled
    assert pixels.std() > 0.05  # a photograph, not a blank


def test_the_images_are_credited_to_their_source_and_license():
    for text in ((IMAGES / "README.md").read_text(), (ROOT / "NOTICE").read_text()):
        assert "dianna-ai/explainable_embedding" in text and "Apache" in text
    readme = (IMAGES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in NAMES)


@pytest.mark.parametrize("script", ["gallery", "reproduction"])
def test_image_benchmarks_default_to_the_repository_images(script):
    module = load_script(script)
    assert module.DEFAULT_IMAGES == IMAGES
    if script == "gallery":
        pairs = module.PAIRS
    else:
        pairs = (*module.SEED_PAIRS, *(("bee.jpg", reference) for reference in module.BEE_REFERENCES))
    assert all((module.DEFAULT_IMAGES / name).is_file() for pair in pairs for name in pair)


def test_timing_benchmarks_read_the_repository_images():
    overhead = load_script("batch_overhead")
    items, reference = overhead._images(None)
    assert [path.name for path in items] == list(overhead.PHOTOGRAPHS) and reference == IMAGES / "fly.jpg"
    benchmarks = load_script("run_benchmarks")
    assert benchmarks._bee_path() == IMAGES / "bee.jpg"
    assert all((IMAGES / name).is_file() for name in benchmarks.REFERENCE_IMAGES)
