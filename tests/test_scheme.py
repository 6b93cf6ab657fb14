import re

import numpy as np
import pytest

from lulc_helpers import errors, labels, paths, scheme


def _data_readme_classes():
    """(id, colour) pairs as the data repository's README lists them (an independent source)."""
    text = (paths.data_dir() / "README.md").read_text(encoding="utf-8")
    return [(int(n), colour) for n, colour in re.findall(r"^(\d+)\. <span style=\"color:(#[0-9a-f]{6});", text, re.M)]


def test_ten_classes_numbered_as_in_the_data_repository():
    # the ids are the data's; the colours are this project's colour-blind-safe ones (tests/test_palette.py)
    assert [n for n, _ in _data_readme_classes()] == [c.id for c in scheme.CLASSES]
    assert scheme.CLASS_IDS == tuple(range(1, 11)) and scheme.QUARRY == 10
    assert scheme.get(10).name.startswith("Quarries")


def test_colour_helpers_agree_with_the_table():
    assert scheme.rgb(8) == (0x17, 0x86, 0xD5)
    assert scheme.legend_dict([4, 10]) == {"4 Crops before harvest / early spring": "fef083", "10 Quarries, open pits": "7b467e"}
    table = scheme.gdal_colour_table()
    assert table[0][3] == 0 and table[1] == (0x00, 0x38, 0x26, 255)
    cmap, norm = scheme.colormap()
    assert cmap(norm(3))[:3] == pytest.approx((0xAA / 255, 0, 0))


def test_validate_codes():
    scheme.validate_codes(np.array([0, 1, 10]), "ok")
    with pytest.raises(errors.UnknownClassError, match="x.tif: unknown class codes 11, 255"):
        scheme.validate_codes(np.array([0, 11, 255]), "x.tif")


def test_class_weights_by_hand():
    # 60 + 30 + 10 labelled pixels of classes 1, 2, 3 (and 5 unlabelled): N=100, K=3
    counts = np.zeros(11)
    counts[[0, 1, 2, 3]] = [5, 60, 30, 10]
    weights = labels.class_weights(counts)
    np.testing.assert_allclose(weights[[1, 2, 3]], [100 / 180, 100 / 90, 100 / 30])
    assert weights[0] == 0 and weights[4:].sum() == 0


def test_class_counts():
    counts = labels.class_counts([np.array([[0, 1], [1, 10]]), np.array([[10, 10]])])
    assert counts[[0, 1, 10]].tolist() == [1, 2, 3] and counts.sum() == 6
