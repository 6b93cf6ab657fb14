"""The class colours can be told apart with normal and with colour-blind vision, and keep their meaning.

Colour-vision deficiency is simulated with the severity-1.0 matrices of Machado, Oliveira & Fernandes
(2009), "A Physiologically-based Model for Simulation of Color Vision Deficiency", IEEE TVCG 15(6),
1291-1298, doi:10.1109/TVCG.2009.113 (the authors' supplementary table), typed here and applied to
linear RGB. CIELAB (D65) comes from colorspacious, a peer library that also implements Machado's model,
so it serves as a second, independent simulation. Differences are CIE76 dE*ab.
"""

import itertools
import re

import colorspacious  # the test extra installs it; a missing library must fail, not skip, the palette check
import numpy as np
import pytest

from lulc_helpers import paths, scheme

MACHADO_2009_SEVERITY_1 = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
COLORSPACIOUS_NAMES = {"protanopia": "protanomaly", "deuteranopia": "deuteranomaly", "tritanopia": "tritanomaly"}
VISION = ("normal", *MACHADO_2009_SEVERITY_1)
MIN_DELTA_E = 12


def _srgb(colour: str) -> np.ndarray:
    return np.array([int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]) / 255


def lab(colours, vision: str = "normal") -> np.ndarray:
    """CIELAB of sRGB hex colours as seen with `vision` (Machado's matrix on linear RGB)."""
    linear = colorspacious.cspace_convert(np.array([_srgb(c) for c in colours]), "sRGB1", "sRGB1-linear")
    if vision != "normal":
        linear = linear @ np.array(MACHADO_2009_SEVERITY_1[vision]).T
    return colorspacious.cspace_convert(linear, "sRGB1-linear", "CIELab")


def closest_pair(colours, vision: str):
    """(dE, i, j) of the two most similar colours, i and j 0-based."""
    points = lab(colours, vision)
    return min((float(np.linalg.norm(points[i] - points[j])), i, j) for i, j in itertools.combinations(range(len(colours)), 2))


def lch(class_id: int):
    L, a, b = lab([scheme.get(class_id).colour])[0]
    return L, a, b, np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360


def test_typed_matrices_are_machado_2009_as_colorspacious_has_them():
    from colorspacious.cvd import machado_et_al_2009_matrix

    for vision, matrix in MACHADO_2009_SEVERITY_1.items():
        np.testing.assert_allclose(matrix, machado_et_al_2009_matrix(COLORSPACIOUS_NAMES[vision], 100), atol=1e-6)


@pytest.mark.parametrize("vision", MACHADO_2009_SEVERITY_1)
def test_simulation_agrees_with_colorspacious(vision):
    colours = scheme.colours()
    theirs = colorspacious.cspace_convert(
        np.array([_srgb(c) for c in colours]), {"name": "sRGB1+CVD", "cvd_type": COLORSPACIOUS_NAMES[vision], "severity": 100}, "CIELab"
    )
    np.testing.assert_allclose(lab(colours, vision), theirs, atol=1e-6)


@pytest.mark.parametrize("vision", VISION)
def test_every_two_classes_differ_by_at_least_12(vision):
    delta, i, j = closest_pair(scheme.colours(), vision)
    assert delta >= MIN_DELTA_E, f"{vision}: {scheme.CLASSES[i].name} vs {scheme.CLASSES[j].name} differ by dE {delta:.1f}"


def test_the_data_repository_colours_fail_the_same_check():
    """The check can fail: the colours of the data's README (two greys, four greens) give the values
    measured when the palette was reviewed (roads vs quarries 9.2; bare soil vs green crops 3.9 deuteranopic)."""
    text = (paths.data_dir() / "README.md").read_text(encoding="utf-8")
    readme = re.findall(r"^\d+\. <span style=\"color:(#[0-9a-f]{6});", text, re.M)
    assert len(readme) == 10
    normal, deuteranopia = closest_pair(readme, "normal"), closest_pair(readme, "deuteranopia")
    assert normal[0] == pytest.approx(9.2, abs=0.05) and {normal[1] + 1, normal[2] + 1} == {7, 10}
    assert deuteranopia[0] == pytest.approx(3.9, abs=0.05) and {deuteranopia[1] + 1, deuteranopia[2] + 1} == {5, 9}


def test_colours_keep_their_meaning():
    points = {c.id: lch(c.id) for c in scheme.CLASSES}
    L, a, b, chroma, hue = (dict((k, v[n]) for k, v in points.items()) for n in range(5))
    water, urban, roads, quarries, soil = 8, 3, 7, 10, 5
    assert b[water] == min(b.values()) and 230 <= hue[water] <= 290  # water is the bluest
    assert a[urban] == max(a.values()) and hue[urban] <= 50  # urban is the reddest
    for green in (1, 2, 6, 9):  # forests, grassland, crops in vegetation: greens
        assert a[green] < -10 and 90 <= hue[green] <= 180, scheme.get(green).name
    assert 80 <= hue[4] <= 110 and b[4] > 40  # crops before harvest: straw yellow
    assert min(L[4], L[9]) > max(L[1], L[2]) + 10  # crops light, forests dark: they stay apart
    assert 40 <= hue[soil] <= 80 and 40 <= L[soil] <= 70 and a[soil] > 0  # bare soil: brown
    assert chroma[roads] < 6  # roads: grey
    assert chroma[quarries] > 25 and 290 <= hue[quarries] <= 340  # quarries: purple, not a grey like roads
    for vision in VISION:
        road, quarry = lab([scheme.get(roads).colour, scheme.get(quarries).colour], vision)
        assert np.linalg.norm(road - quarry) > 30, vision
