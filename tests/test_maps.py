"""Offline geemap maps: layers, their colours against the scheme, the legend, linked side-by-side maps,
and reading every layer's class at a clicked point. No network, no Earth Engine."""

import base64
import io
import json
import re
import sys

import numpy as np
import pytest
import xarray as xr
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from lulc_helpers import maps, scheme

pytest.importorskip("geemap")

def _hex(colour):
    return tuple(int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))


# the class colours as written in the scheme's table (parsed from hex here, not through scheme.rgb)
COLOURS = {c.id: _hex(c.colour) for c in scheme.CLASSES}
ORIGIN = (585420.0, 5652250.0)  # the Strzegom grid, EPSG:32633


def _raster(values, name):
    values = np.asarray(values, dtype=np.uint8)
    da = xr.DataArray(
        values, dims=("y", "x"), name=name,
        coords={"y": ORIGIN[1] - 5 - 10 * np.arange(values.shape[0]), "x": ORIGIN[0] + 5 + 10 * np.arange(values.shape[1])},
    )
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.rio.write_transform(from_origin(*ORIGIN, 10, 10), inplace=True)
    return da


@pytest.fixture(scope="module")
def layers():
    halves = np.zeros((40, 40), dtype=np.uint8)
    halves[:, :20], halves[:, 20:] = 10, 1  # west: quarries, east: conifer forest
    quarters = np.full((40, 40), 8, dtype=np.uint8)
    quarters[20:, :] = 3  # north: water, south: urban
    return {"RF": _raster(halves, "RF"), "Reference": _raster(quarters, "Reference")}


def _decode(url):
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def _latlon(x, y):
    lon, lat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform(x, y)
    return lat, lon


def test_class_overlay_colours_follow_the_scheme(layers):
    url, ((south, west), (north, east)) = maps.class_overlay(layers["RF"])
    rgba = _decode(url)
    h, w, _ = rgba.shape
    assert tuple(rgba[h // 2, w // 4]) == (*COLOURS[10], 255)
    assert tuple(rgba[h // 2, 3 * w // 4]) == (*COLOURS[1], 255)
    colours = {tuple(c) for c in rgba.reshape(-1, 4)}
    assert colours <= {(*COLOURS[10], 255), (*COLOURS[1], 255), (0, 0, 0, 0)}
    # bounds enclose the grid's corners (pyproj, independently of rasterio)
    for x, y in [(ORIGIN[0], ORIGIN[1]), (ORIGIN[0] + 400, ORIGIN[1] - 400)]:
        lat, lon = _latlon(x, y)
        assert south - 1e-9 <= lat <= north + 1e-9 and west - 1e-9 <= lon <= east + 1e-9
    assert 50.9 < south < north < 51.1 and 16.1 < west < east < 16.4  # Strzegom, Lower Silesia


def test_class_map_layers_legend_and_switcher(layers):
    import ipyleaflet

    m = maps.class_map(layers)
    overlays = [layer for layer in m.layers if isinstance(layer, ipyleaflet.ImageOverlay)]
    assert [layer.name for layer in overlays] == ["RF", "Reference"]
    reference = _decode(overlays[1].url)
    h, w, _ = reference.shape
    assert tuple(reference[h // 4, w // 2][:3]) == COLOURS[8] and tuple(reference[3 * h // 4, w // 2][:3]) == COLOURS[3]
    assert any(isinstance(c, ipyleaflet.LayersControl) for c in m.controls)
    legend = next(c.widget for c in m.controls if type(getattr(c, "widget", None)).__name__ == "Legend")
    assert len(legend.legend_keys) == 10
    assert legend.legend_keys[9] == "10 Quarries, open pits" and _hex(legend.legend_colors[9]) == COLOURS[10]
    assert legend.legend_keys[0] == "1 Conifer forest" and _hex(legend.legend_colors[0]) == COLOURS[1]


@pytest.fixture(scope="module")
def image(layers):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 3000, (10, 40, 40)).astype(np.uint16)
    image = xr.DataArray(values, dims=("band", "y", "x"),
                         coords={"band": ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"],
                                 "y": layers["RF"].y, "x": layers["RF"].x})
    image.rio.write_crs("EPSG:32633", inplace=True)
    image.rio.write_transform(layers["RF"].rio.transform(), inplace=True)
    return image


def _overlays(m):
    import ipyleaflet

    return [layer for layer in m.layers if isinstance(layer, ipyleaflet.ImageOverlay)]


def _style_sheets(m):
    """The text of every <style> element carried by a widget control of map `m`."""
    return [s for c in m.controls for s in re.findall(r"<style>(.*?)</style>", getattr(getattr(c, "widget", None), "value", "") or "", re.S)]


def test_true_colour_layer_is_first_when_an_image_is_given(layers, image):
    import ipyleaflet

    m = maps.class_map(layers, image)
    overlays = [layer.name for layer in m.layers if isinstance(layer, ipyleaflet.ImageOverlay)]
    assert overlays == ["True colour (B04 B03 B02)", "RF", "Reference"]


def test_click_reads_every_layer(layers):
    m = maps.class_map(layers)
    handler = maps.add_inspector(m, layers)
    # pixel (row 30, col 5): RF west half -> 10, Reference south half -> 3
    lat, lon = _latlon(ORIGIN[0] + 55, ORIGIN[1] - 305)
    assert maps.values_at(layers, lat, lon) == {"RF": 10, "Reference": 3}
    handler(type="click", coordinates=[lat, lon])
    assert "10 Quarries, open pits" in handler.panel.value and "3 Urban" in handler.panel.value
    handler(type="mousemove", coordinates=[0.0, 0.0])  # only clicks update the panel
    assert "3 Urban" in handler.panel.value
    assert maps.latlon(ORIGIN[0] + 55, ORIGIN[1] - 305, "EPSG:32633") == pytest.approx((lat, lon))
    far = maps.values_at(layers, 52.0, 21.0)  # Warsaw: outside the scene
    assert far == {"RF": 0, "Reference": 0}
    assert "no data" in maps.describe_point(layers, 52.0, 21.0)


def test_side_by_side_maps_are_linked_in_two_equal_grid_columns(layers):
    import ipywidgets

    box = maps.side_by_side(("RF", layers["RF"]), ("Reference", layers["Reference"]))
    left, right = box.children
    assert [l.name for l in _overlays(left)] == ["RF"]
    assert [l.name for l in _overlays(right)] == ["Reference"]
    linked = {(link.source[1], link.target[1]) for link in box.links}
    assert linked == {("center", "center"), ("zoom", "zoom")}
    assert all(link.source[0] is left and link.target[0] is right for link in box.links)
    # each pane gets its width from its own grid column from the start, never squeezed from full width
    assert isinstance(box, ipywidgets.GridBox)
    columns = re.findall(r"[\w-]*\([^)]*\)|\S+", box.layout.grid_template_columns)
    assert len(columns) == 2 and columns[0] == columns[1] and "fr" in columns[0]
    assert all(m.layout.width in (None, "auto") for m in (left, right))


def test_true_colour_is_reachable_in_side_by_side_and_saved_once(layers, image):
    import ipyleaflet
    from ipywidgets.embed import dependency_state

    box = maps.side_by_side(("RF", layers["RF"]), ("Reference", layers["Reference"]), image)
    for m, name in zip(box.children, ("RF", "Reference")):
        assert [l.name for l in _overlays(m)] == [maps.TRUE_COLOUR_NAME, name]  # true colour under the classes
        assert any(isinstance(c, ipyleaflet.LayersControl) for c in m.controls)  # ... and a switcher to reveal it
    left, right = (_overlays(m)[0] for m in box.children)
    assert left is right
    state = dependency_state(box)
    true_colour_url = left.url
    assert json.dumps(state).count(true_colour_url) == 1
    assert true_colour_url.startswith("data:image/webp;base64,")


def test_no_hidden_layers_and_no_kernel_only_widgets(layers, image):
    from ipywidgets.embed import dependency_state

    for widget in (maps.class_map(layers, image), maps.side_by_side(("RF", layers["RF"]), ("Reference", layers["Reference"]), image)):
        for m in getattr(widget, "children", [widget]):
            assert all(layer.opacity > 0 and getattr(layer, "visible", True) for layer in m.layers)
        kinds = {v["state"].get("_anywidget_id", v["model_name"]) for v in dependency_state(widget).values()}
        # geemap's toolbar, layer manager and search bar need a kernel; only the legend may be an anywidget
        assert not {k for k in kinds if k.startswith("geemap.") and k != "geemap.map_widgets.Legend"}


def test_class_layers_are_drawn_nearest_neighbour(layers, image):
    import ipyleaflet

    maps_to_check = [maps.class_map(layers, image), *maps.side_by_side(("RF", layers["RF"]), ("Reference", layers["Reference"]), image).children]
    for m in maps_to_check:
        sheets = _style_sheets(m)
        pixelated = {cls for sheet in sheets for cls in re.findall(r"\.([\w-]+)\s*\{[^}]*image-rendering:\s*pixelated", sheet)}
        for layer in _overlays(m):
            state = layer.get_state()
            if layer.name == maps.TRUE_COLOUR_NAME:
                assert "class_name" not in state
                continue
            # the class name reaches Leaflet as the `className` option of L.imageOverlay
            assert "class_name" in state["options"] and state["class_name"] in pixelated
        style_controls = [c for c in m.controls if isinstance(c, ipyleaflet.WidgetControl) and "<style>" in getattr(c.widget, "value", "")]
        assert style_controls and all(c.transparent_bg and c.widget.layout.display == "none" for c in style_controls)


def test_class_png_is_the_scheme_table_with_transparent_nodata():
    codes = np.arange(11, dtype=np.uint8).reshape(1, 11)
    buffer = io.BytesIO()
    maps.class_png(codes).save(buffer, format="PNG")
    rgba = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGBA"))
    assert rgba[0, 0, 3] == 0
    for code, colour in COLOURS.items():
        assert tuple(rgba[0, code]) == (*colour, 255)


def test_static_figure_has_a_panel_per_layer(layers):
    fig = maps.figure(layers, columns=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["RF", "Reference"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == scheme.names()


def test_missing_geemap_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "geemap", None)  # `import geemap` now raises ImportError
    with pytest.raises(ImportError, match='pip install "geemap'):
        maps.base_map((51.0, 16.3))
