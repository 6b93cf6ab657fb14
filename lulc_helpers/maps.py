"""Interactive geemap maps of classifications that work offline, in the scheme's colours.

Local rasters go on the map as PNG image overlays (data URLs, no tile server, no Earth Engine):
each raster is first warped to Web Mercator (nearest neighbour for classes), the projection
Leaflet draws in, so that the overlay's lat/lon bounds place every pixel where it belongs; a UTM
raster stretched between its lat/lon corners would be rotated by the grid convergence (about
1 degree at Strzegom, 70 m at the edge of the 4 km scene).

Class overlays are palette PNGs drawn nearest-neighbour: each carries the CSS class
`CLASS_OVERLAY_CSS` and every map holds a hidden style sheet that sets `image-rendering: pixelated`
on it, so the browser never blends two classes into a colour that is not in the legend (this also
holds in a static HTML export, where the style travels in the saved widget state). The true-colour
composite is a lossy WebP: it is a photograph, and it is the largest thing a page carries.

Maps carry only controls that work without a kernel (zoom, full screen, scale, Leaflet's layer
switcher, the legend): geemap's toolbar and layer manager are Python-driven and would add about
2 MB of widget state to every saved page.

Side by side: two maps in a two-column GridBox whose centre and zoom are linked in the browser
(`jslink`), because ipyleaflet's SplitMapControl fails with image overlays (docs/design.md). Each
column has its own width from the start (a map squeezed after Leaflet has measured it shows
another place than its neighbour). Both panes share one true-colour layer under their class
layer; the layer switcher reveals it.
A click on `class_map` shows the class of every layer at that point (`values_at` reads them).
"""

from __future__ import annotations

import base64
import functools
import io
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import rasters, scheme

WEB_MERCATOR = "EPSG:3857"
MAP_HEIGHT = "520px"
CLASS_OVERLAY_CSS = "lulc-class-overlay"
NEAREST_NEIGHBOUR_STYLE = f"<style>.{CLASS_OVERLAY_CSS} {{ image-rendering: pixelated; }}</style>"
TRUE_COLOUR_NAME = "True colour (B04 B03 B02)"
TRUE_COLOUR_QUALITY = 80  # WebP quality: a third of the PNG's size at no visible loss on the map
# controls that run in the browser alone (geemap's toolbar, layer manager, search and draw tools need a kernel)
MAP_CONTROLS = dict(toolbar_ctrl=False, search_ctrl=False, draw_ctrl=False, measure_ctrl=False, layout_ctrl=False)


def _geemap():
    try:
        import geemap
    except ImportError:
        raise ImportError('geemap is not installed: pip install "geemap>=0.37,<0.39" (the maps need it)') from None
    return geemap


# ---------------------------------------------------------------- rasters as PNG overlays


def _to_web_mercator(raster: xr.DataArray, categorical: bool) -> xr.DataArray:
    from rasterio.enums import Resampling

    resampling = Resampling.nearest if categorical else Resampling.bilinear
    return raster.rio.reproject(WEB_MERCATOR, resampling=resampling, nodata=scheme.NODATA)


def _latlon_bounds(raster: xr.DataArray) -> tuple[tuple[float, float], tuple[float, float]]:
    """((south, west), (north, east)), the form ipyleaflet takes."""
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(raster.rio.crs, "EPSG:4326", *raster.rio.bounds())
    return (south, west), (north, east)


def _data_url(image, format: str, **options) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return f"data:image/{format.lower()};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def class_png(codes: np.ndarray):
    """A palette image of class codes: index k is the scheme's colour of class k, 0 transparent.

    Parameters
    ----------
    codes : numpy.ndarray
        Class codes (y, x).

    Returns
    -------
    PIL.Image.Image
        A "P"-mode image with the scheme's palette.
    """
    from PIL import Image

    table = np.zeros((256, 4), dtype=np.uint8)
    for code, colour in scheme.gdal_colour_table().items():
        table[code] = colour
    image = Image.fromarray(np.asarray(codes, dtype=np.uint8), "P")
    image.putpalette(table[:, :3].tobytes(), rawmode="RGB")
    image.info["transparency"] = table[:, 3].tobytes()
    return image


def class_overlay(classified: xr.DataArray) -> tuple[str, tuple]:
    """A class map as an image for a web map, warped to Web Mercator (nearest neighbour).

    Parameters
    ----------
    classified : xarray.DataArray
        A class map with a CRS.

    Returns
    -------
    url : str
        A PNG data URL.
    bounds : tuple
        ((south, west), (north, east)) in degrees.
    """
    warped = _to_web_mercator(classified, categorical=True)
    return _data_url(class_png(warped.values), "PNG", optimize=True), _latlon_bounds(warped)


def true_colour_overlay(image: xr.DataArray, percentiles: tuple[float, float] = (2, 98)) -> tuple[str, tuple]:
    """A true-colour composite (B04/B03/B02) as an image for a web map, stretched between two percentiles.

    Parameters
    ----------
    image : xarray.DataArray
        A 10-band image with a CRS.
    percentiles : tuple of float, default (2, 98)
        The stretch.

    Returns
    -------
    url : str
        A WebP data URL.
    bounds : tuple
        ((south, west), (north, east)) in degrees.
    """
    from PIL import Image

    rgb = image.sel(band=["B04", "B03", "B02"]).astype(np.float32)
    warped = _to_web_mercator(rgb, categorical=False).values
    valid = warped.any(axis=0)
    low, high = np.percentile(warped[:, valid], percentiles)
    scaled = np.clip((warped - low) / (high - low) * 255, 0, 255).astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    webp = _data_url(Image.fromarray(np.dstack([*scaled, alpha]), "RGBA"), "WEBP", quality=TRUE_COLOUR_QUALITY)
    return webp, _latlon_bounds(_to_web_mercator(image.isel(band=0), categorical=True))


@functools.cache
def _class_overlay_type():
    import ipyleaflet
    import traitlets

    class ClassOverlay(ipyleaflet.ImageOverlay):
        """An ImageOverlay whose <img> carries a CSS class (Leaflet's `className` option) so that a page
        style can draw it nearest-neighbour."""

        class_name = traitlets.Unicode(CLASS_OVERLAY_CSS).tag(sync=True, o=True)

    return ClassOverlay


def class_layer(classified: xr.DataArray, name: str):
    """A class map as an image layer drawn nearest-neighbour in the scheme's colours.

    Parameters
    ----------
    classified : xarray.DataArray
        A class map with a CRS.
    name : str
        The layer's name in the layer switcher.

    Returns
    -------
    ipyleaflet.ImageOverlay
        The layer.
    """
    url, bounds = class_overlay(classified)
    return _class_overlay_type()(url=url, bounds=bounds, name=name)


def true_colour_layer(image: xr.DataArray):
    """The true-colour composite as an image layer (one layer may sit on several maps).

    Parameters
    ----------
    image : xarray.DataArray
        A 10-band image with a CRS.

    Returns
    -------
    ipyleaflet.ImageOverlay
        The layer.
    """
    import ipyleaflet

    url, bounds = true_colour_overlay(image)
    return ipyleaflet.ImageOverlay(url=url, bounds=bounds, name=TRUE_COLOUR_NAME)


# ---------------------------------------------------------------- maps


def base_map(center: tuple[float, float], zoom: int = 14, **kwargs):
    """A geemap Map that never touches Earth Engine (a plain geemap.Map() would ask for credentials), with the
    browser-only controls of MAP_CONTROLS and the style sheet that draws class layers nearest-neighbour.

    Parameters
    ----------
    center : tuple of float
        (lat, lon).
    zoom : int, default 14
        The zoom level.
    **kwargs
        Passed to geemap.Map.

    Returns
    -------
    geemap.Map
        The map.
    """
    import ipyleaflet
    import ipywidgets

    geemap = _geemap()
    m = geemap.Map(center=center, zoom=zoom, ee_initialize=False, height=MAP_HEIGHT, **{**MAP_CONTROLS, **kwargs})
    style = ipywidgets.HTML(NEAREST_NEIGHBOUR_STYLE, layout=ipywidgets.Layout(display="none"))
    m.add(ipyleaflet.WidgetControl(widget=style, position="bottomleft", transparent_bg=True))
    return m


def _centre(raster: xr.DataArray) -> tuple[float, float]:
    (south, west), (north, east) = _latlon_bounds(raster)
    return (south + north) / 2, (west + east) / 2


def class_map(layers: Mapping[str, xr.DataArray], image: xr.DataArray | None = None, title: str = "Land cover"):
    """An interactive map of class maps: the true-colour composite, every class map as a layer, legend, layer
    switcher, and a click inspector that lists the class of each layer at the clicked point.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        Class maps by layer name.
    image : xarray.DataArray, optional
        A 10-band image for the true-colour composite.
    title : str, default "Land cover"
        The legend's title.

    Returns
    -------
    geemap.Map
        The map.
    """
    first = next(iter(layers.values()))
    m = base_map(_centre(first))
    if image is not None:
        m.add(true_colour_layer(image))
    for name, classified in layers.items():
        m.add(class_layer(classified, name))
    m.add_legend(title=title, legend_dict=scheme.legend_dict(), position="bottomright")
    m.add_layer_control(position="topright")
    add_inspector(m, layers)
    return m


def side_by_side(left: tuple[str, xr.DataArray], right: tuple[str, xr.DataArray], image: xr.DataArray | None = None):
    """Two maps in two equal columns with linked centre and zoom (panning one pans the other, in the browser).

    With `image`, both share one true-colour layer under their class layer, shown by unticking the class layer in
    the map's layer switcher.

    Parameters
    ----------
    left, right : tuple of (str, xarray.DataArray)
        Each map's name and class map.
    image : xarray.DataArray, optional
        A 10-band image for the true-colour composite.

    Returns
    -------
    ipywidgets.GridBox
        The two maps.
    """
    import ipywidgets

    true_colour = true_colour_layer(image) if image is not None else None
    maps = []
    for name, classified in (left, right):
        m = base_map(_centre(classified), fullscreen_ctrl=False)
        m.layout.width = "auto"  # the grid column sets it
        if true_colour is not None:
            m.add(true_colour)
        m.add(class_layer(classified, name))
        m.add_text(name, position="topright")
        m.add_layer_control(position="topright")
        maps.append(m)
    maps[-1].add_legend(title="Land cover", legend_dict=scheme.legend_dict(), position="bottomright")
    box = ipywidgets.GridBox(
        maps, layout=ipywidgets.Layout(width="100%", grid_template_columns="minmax(0, 1fr) minmax(0, 1fr)", grid_gap="4px")
    )
    box.links = [ipywidgets.jslink((maps[0], trait), (maps[1], trait)) for trait in ("center", "zoom")]
    return box


def add_ee_layer(m, image, name: str) -> None:
    """Earth Engine mode: a classified ee.Image on a geemap Map in the scheme's palette.

    Parameters
    ----------
    m : geemap.Map
        The map.
    image : ee.Image
        A classified image (class codes).
    name : str
        The layer's name.
    """
    from .classical import gee

    m.add_layer(image, gee.vis_params(), name)


# ---------------------------------------------------------------- reading a clicked point


def latlon(x: float, y: float, crs) -> tuple[float, float]:
    """A point's WGS84 coordinates.

    Parameters
    ----------
    x, y : float
        The point in `crs` (e.g. a test point's x, y).
    crs : pyproj.CRS or str
        Its CRS.

    Returns
    -------
    tuple of float
        (lat, lon).
    """
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return lat, lon


def values_at(layers: Mapping[str, xr.DataArray], lat: float, lon: float) -> dict[str, int]:
    """Every layer's class at a point.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        Class maps by layer name.
    lat, lon : float
        A WGS84 point.

    Returns
    -------
    dict of str to int
        {layer name: class code}, 0 where the layer has no data or the point is outside.
    """
    from pyproj import Transformer

    found = {}
    for name, raster in layers.items():
        x, y = Transformer.from_crs("EPSG:4326", raster.rio.crs, always_xy=True).transform(lon, lat)
        found[name] = int(rasters.values_at_points(raster, pd.DataFrame({"x": [x], "y": [y]}))[0])
    return found


def describe_point(layers: Mapping[str, xr.DataArray], lat: float, lon: float) -> str:
    """An HTML table of the class of every layer at a point, each with its colour swatch.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        Class maps by layer name.
    lat, lon : float
        A WGS84 point.

    Returns
    -------
    str
        The HTML.
    """
    rows = []
    for name, code in values_at(layers, lat, lon).items():
        label = f"{code} {scheme.get(code).name}" if code != scheme.NODATA else "no data"
        colour = scheme.get(code).colour if code != scheme.NODATA else "transparent"
        swatch = f'<span style="display:inline-block;width:10px;height:10px;background:{colour}"></span>'
        rows.append(f"<tr><td>{name}</td><td>{swatch} {label}</td></tr>")
    return f"<b>{lat:.5f} N, {lon:.5f} E</b><table>{''.join(rows)}</table>"


def add_inspector(m, layers: Mapping[str, xr.DataArray]):
    """Show the classes of all layers at every clicked point in a box on the map.

    Parameters
    ----------
    m : geemap.Map
        The map.
    layers : mapping of str to xarray.DataArray
        Class maps by layer name.

    Returns
    -------
    callable
        The click handler; its `panel` attribute is the box it writes to.
    """
    import ipyleaflet
    import ipywidgets

    panel = ipywidgets.HTML("Click the map to read the class of every layer.")
    m.add(ipyleaflet.WidgetControl(widget=panel, position="bottomleft"))

    def on_click(**event):
        if event.get("type") == "click":
            lat, lon = event["coordinates"]
            panel.value = describe_point(layers, lat, lon)

    m.on_interaction(on_click)
    on_click.panel = panel
    return on_click


# ---------------------------------------------------------------- a static figure of the same maps


def figure(layers: Mapping[str, xr.DataArray], image: xr.DataArray | None = None, columns: int = 3):
    """A static figure of the true-colour composite and every class map, with the scheme's legend.

    Parameters
    ----------
    layers : mapping of str to xarray.DataArray
        Class maps by layer name.
    image : xarray.DataArray, optional
        A 10-band image for the true-colour composite.
    columns : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels = ([("True colour", None)] if image is not None else []) + list(layers.items())
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4 * rows), squeeze=False)
    cmap, norm = scheme.colormap()
    for ax, (name, classified) in zip(axes.flat, panels):
        if classified is None:
            rgb = image.sel(band=["B04", "B03", "B02"]).values.astype(np.float32)
            low, high = np.percentile(rgb, (2, 98))
            ax.imshow(np.clip((rgb.transpose(1, 2, 0) - low) / (high - low), 0, 1))
        else:
            ax.imshow(classified.values, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(name)
        ax.set_axis_off()
    for ax in axes.flat[len(panels) :]:
        ax.set_axis_off()
    handles = [Patch(color=colour, label=label) for label, colour in zip(scheme.names(), scheme.colours())]
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def maps_of(paths: Mapping[str, str]) -> dict[str, xr.DataArray]:
    """Class maps read from GeoTIFF paths.

    Parameters
    ----------
    paths : mapping of str to str
        {name: path}.

    Returns
    -------
    dict of str to xarray.DataArray
        {name: class map}.

    Raises
    ------
    DataError
        Naming the file, if one cannot be read as a class map.
    UnknownClassError
        For codes outside the scheme.
    """
    return {name: rasters.open_class_map(path, name) for name, path in paths.items()}

