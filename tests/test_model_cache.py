"""The test suite keeps its model files in a temporary cache and leaves the user's cache alone."""

from __future__ import annotations

from pathlib import Path

import pooch

from dianna_distance.models import get_cache_dir, load_image_encoder

USER_CACHE = Path(pooch.os_cache("dianna-distance"))


def _listing(folder: Path) -> dict[str, int]:
    return {str(path): path.stat().st_mtime_ns for path in folder.rglob("*")} if folder.is_dir() else {}


def test_the_suite_caches_models_in_a_temporary_folder_not_the_users(session_model_cache):
    assert get_cache_dir() == session_model_cache
    assert session_model_cache.is_dir() and session_model_cache != USER_CACHE
    assert USER_CACHE not in session_model_cache.parents


def test_loading_the_efficientnet_preset_by_name_leaves_the_users_cache_untouched(effnet_file):
    before = _listing(USER_CACHE)
    encoder = load_image_encoder("efficientnet-lite0")
    assert Path(encoder.model) == effnet_file and effnet_file.parent == get_cache_dir()
    assert _listing(USER_CACHE) == before


def test_the_efficientnet_export_is_shared_by_the_session(effnet_file):
    modified = effnet_file.stat().st_mtime_ns
    load_image_encoder("efficientnet-lite0")
    assert effnet_file.stat().st_mtime_ns == modified  # used, not exported again


def test_the_cli_preset_uses_the_suites_cache(effnet_file, tmp_path):
    from dianna_distance.cli import main

    before = _listing(USER_CACHE)
    bee = Path(__file__).parent.parent / "data" / "images" / "bee.jpg"
    name = "efficientnet-lite0"
    assert main(["explain", "--preset", name, name, str(bee), "--reference", str(bee), "--n-masks", "20",
                 "--no-progress", "--output", str(tmp_path / "bee")]) == 0
    assert _listing(USER_CACHE) == before


def test_the_smoke_subset_names_test_files_that_exist():
    from conftest import SMOKE_FILES

    tests = Path(__file__).parent
    assert SMOKE_FILES and all((tests / name).is_file() for name in SMOKE_FILES)
