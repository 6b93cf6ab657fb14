"""CORINE level-3 and reference-name mappings (scheme.py) and the name report (labels.py)."""

import geopandas as gpd
import pytest
from shapely.geometry import box

from lulc_helpers import errors, labels, scheme

# The CLC nomenclature, typed from the EEA's level-3 list (15 level-2 groups, 44 codes).
OFFICIAL_CODES = [
    111, 112, 121, 122, 123, 124, 131, 132, 133, 141, 142,
    211, 212, 213, 221, 222, 223, 231, 241, 242, 243, 244,
    311, 312, 313, 321, 322, 323, 324, 331, 332, 333, 334, 335,
    411, 412, 421, 422, 423,
    511, 512, 521, 522, 523,
]


def test_corine_lists_all_44_codes_once():
    assert len(OFFICIAL_CODES) == 44
    assert [m.code for m in scheme.CORINE] == OFFICIAL_CODES
    assert len(scheme.corine_table()) == 44


@pytest.mark.parametrize(
    "code, name",
    [(131, "Mineral extraction sites"), (211, "Non-irrigated arable land"), (324, "Transitional woodland-shrub"),
     (523, "Sea and ocean")],
)
def test_corine_official_names(code, name):
    assert scheme.corine(code).name == name


def test_every_code_is_mapped_or_explicitly_marked():
    for m in scheme.CORINE:
        assert m.status in (scheme.MAPPED, scheme.AMBIGUOUS, scheme.NO_EQUIVALENT), m
        assert all(c in scheme.CLASS_IDS for c in m.classes), m
        if m.status == scheme.MAPPED:
            assert len(m.classes) == 1, m
        elif m.status == scheme.AMBIGUOUS:
            assert len(m.classes) >= 2 and m.rule, m
        else:
            assert m.classes == () and m.rule, m


def test_key_decisions_of_the_scheme():
    assert scheme.corine(131).classes == (scheme.QUARRY,) and scheme.corine(131).status == scheme.MAPPED
    arable = scheme.corine(211)
    assert arable.status == scheme.AMBIGUOUS and {4, 9} <= set(arable.classes) and "season" not in arable.name
    assert scheme.corine(312).classes == (1,)
    assert scheme.corine(512).classes == (8,)


def test_every_scheme_class_has_a_corine_source():
    reachable = {c for m in scheme.CORINE for c in m.classes}
    assert reachable == set(scheme.CLASS_IDS)


def test_unknown_corine_code_is_an_error():
    with pytest.raises(errors.UnknownClassError, match="999"):
        scheme.corine(999)


def test_reference_names_cover_the_strzegom_geopackage(data_root, strzegom_test):
    frame = gpd.read_file(data_root / strzegom_test.reference)  # read directly, not through the package
    names = set(frame["name"].dropna())
    assert names == {"iglasty", "mieszany", "zabudowa", "zboze", "gleba", "droga", "woda", "main", "zabnudowa"}
    for name, label in zip(frame["name"], frame["label"]):
        if isinstance(name, str):
            assert label in scheme.reference_name(name).classes, (name, label)


def test_typo_and_missing_names_are_reported(data_root, strzegom_test):
    frame = gpd.read_file(data_root / strzegom_test.reference)
    report = labels.name_report(frame)
    typo = report[report["status"] == "typo of zabudowa"]
    assert typo["name"].tolist() == ["zabnudowa"] and typo["polygons"].sum() == (frame["name"] == "zabnudowa").sum()
    unnamed = report[report["status"] == "no name"]
    assert unnamed["polygons"].sum() == frame["name"].isna().sum() == 11
    assert report["polygons"].sum() == len(frame)
    assert scheme.reference_name("zabnudowa").typo_of == "zabudowa"
    assert scheme.reference_name("zboze").classes == (4, 9)


def test_name_report_flags_unknown_names_and_unexpected_labels():
    frame = gpd.GeoDataFrame(
        {"name": ["woda", "woda", "las", None], "label": [8, 3, 1, 4]}, geometry=[box(0, 0, 1, 1)] * 4, crs=32633
    )
    report = labels.name_report(frame)
    status = {(r.name, r.label): r.status for r in report.dropna(subset=["name"]).itertuples()}
    assert status[("woda", 8)] == "ok"
    assert status[("woda", 3)] == "label not expected for this name"
    assert status[("las", 1)] == "unknown name"
    assert report[report["name"].isna()][["label", "status"]].values.tolist() == [[4, "no name"]]


def test_name_report_without_the_field_names_it():
    frame = gpd.GeoDataFrame({"DN": [1]}, geometry=[box(0, 0, 1, 1)], crs=32634)
    frame.attrs["source"] = "kolbuszowa_ref.gpkg"
    with pytest.raises(errors.DataError, match=r"kolbuszowa_ref.gpkg: no field name, label"):
        labels.name_report(frame)
