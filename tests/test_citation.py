"""CITATION.cff: GitHub's "Cite this repository" and Zenodo read it, so it must parse and name the paper."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER_DOI = "10.3390/app15179785"  # Hejmanowska et al., Applied Sciences 2025, 15, 9785


def _citation():
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_parses_with_the_keys_cff_requires():
    citation = _citation()
    assert citation["cff-version"] == "1.2.0"
    assert citation["type"] == "software"
    assert citation["message"] and citation["title"] and citation["authors"]


def test_the_preferred_citation_is_the_paper():
    paper = _citation()["preferred-citation"]
    assert paper["type"] == "article" and str(paper["doi"]) == PAPER_DOI
    assert [a["family-names"] for a in paper["authors"]] == ["Hejmanowska", "Michałowska", "Kramarczyk", "Głowienka"]
    assert (paper["journal"], paper["year"], paper["volume"], paper["start"]) == ("Applied Sciences", 2025, 15, 9785)


def test_version_licence_and_repository_agree_with_pyproject():
    citation, project = _citation(), tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"]
    assert citation["repository-code"] == project["urls"]["Repository"]
