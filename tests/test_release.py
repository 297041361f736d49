"""What a release carries: one version everywhere, a citation of the package and the paper, a changelog."""

from __future__ import annotations

import re
from pathlib import Path

import dianna_distance

ROOT = Path(__file__).parent.parent


def test_citation_gives_the_packages_one_version():
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"(?m)^version: (\S+)$", citation).group(1) == dianna_distance.__version__


def test_citation_cites_the_package_and_the_paper():
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"(?m)^type: software$", citation) and "title: \"dianna-distance" in citation
    assert "arXiv:2505.15516" in citation and "Explainable embeddings with Distance Explainer" in citation


def test_pyproject_reads_the_version_from_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "dianna_distance.__version__" }' in pyproject
    assert not re.search(r'(?m)^version = "', pyproject)


def test_changelog_follows_keep_a_changelog_with_an_unreleased_section_first():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"(?m)^## \[([^\]]+)\]", changelog)
    assert releases and releases[0] == "Unreleased"
    assert "keepachangelog.com" in changelog


def test_the_package_declares_its_type_hints():
    assert (Path(dianna_distance.__file__).parent / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
