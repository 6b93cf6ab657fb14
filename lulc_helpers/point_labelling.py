"""Label the points of a stratified sample by eye, on a geemap map, one click per point.

`PointLabeller(path, layers, images)` steps through the points of a GeoPackage written by
`sampling.write_points`: the map zooms to each point (a ring marks it), true colour of any date and
the reference layers can be switched on, and one button per class (plus "unsure") labels the point.
By default the interpreter is not told the map's class (good practice: reference labels made blind
to the map cannot lean towards it). Every click is written to the GeoPackage at once, atomically, so closing the notebook loses
nothing and a new labeller on the same file starts at the first point still unlabelled.
Works offline: local rasters are image overlays (`maps.class_overlay`, `maps.true_colour_overlay`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pandas as pd
import xarray as xr

from . import errors, maps, sampling, scheme

POINT_ZOOM = 17  # about 1 m per screen pixel at 51 N: one 10 m pixel is clearly visible
INTERPRETER = "interpreter"


def _text_colour(hex_colour: str) -> str:
    """Black or white, whichever reads better on the class colour (relative luminance, WCAG)."""
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


class PointLabeller:
    """An ipywidgets panel: a geemap map zoomed to the current point, previous/next, a date chooser for the
    true-colour layer, one button per class and "unsure", and the progress so far.

    `layers`: class rasters to show (e.g. a reference), `images`: {date: 10-band image}; `blind=False` also
    prints the map's class of each point. Buttons can be pressed from code (`labeller.class_buttons[10].click()`),
    which is how it is tested. A label that cannot be saved is undone and the status says so.
    """

    def __init__(self, path: str | os.PathLike, layers: Mapping[str, xr.DataArray] | None = None,
                 images: Mapping[str, xr.DataArray] | None = None, zoom: int = POINT_ZOOM, source: str = INTERPRETER,
                 blind: bool = True):
        import ipyleaflet
        import ipywidgets

        self.path = Path(path)
        self.points = sampling.read_points(self.path)
        if self.points.empty:
            raise ValueError(f"{self.path}: no points to label")
        self.zoom, self.source, self.blind = zoom, source, blind
        self.images = dict(images or {})
        self._true_colour_layers: dict = {}
        start = sampling.first_unlabelled(self.points)
        self.position = 0 if start is None else start

        lat, lon = self._latlon(self.position)
        self.map = maps.base_map((lat, lon), zoom=zoom)
        self._true_colour = None
        for name, raster in (layers or {}).items():
            layer = maps.class_layer(raster, name)
            layer.opacity = 0.6  # the ground shows through
            self.map.add(layer)
        self.marker = ipyleaflet.CircleMarker(location=(lat, lon), radius=10, color="#ffffff", weight=3, fill_opacity=0,
                                              name="current point")
        self.map.add(self.marker)
        self.map.add_layer_control(position="topright")

        self.date = ipywidgets.Dropdown(options=["(none)", *self.images], value="(none)", description="True colour")
        self.date.observe(lambda change: self.show_date(change["new"]), names="value")
        self.previous_button = ipywidgets.Button(description="◀ previous", tooltip="previous point")
        self.next_button = ipywidgets.Button(description="next ▶", tooltip="next point")
        self.previous_button.on_click(lambda _: self.go(self.position - 1))
        self.next_button.on_click(lambda _: self.go(self.position + 1))
        self.class_buttons = {}
        for c in scheme.CLASSES:
            button = ipywidgets.Button(description=f"{c.id} {c.name}", tooltip=f"reference class {c.id}: {c.name}",
                                       layout=ipywidgets.Layout(width="auto"))
            button.style.button_color = c.colour
            button.style.text_color = _text_colour(c.colour)
            button.on_click(lambda _, code=c.id: self.label(code))
            self.class_buttons[c.id] = button
        self.unsure_button = ipywidgets.Button(description="unsure", tooltip="no class can be given from what is visible")
        self.unsure_button.on_click(lambda _: self.label(sampling.UNSURE))
        self.progress = ipywidgets.IntProgress(min=0, max=len(self.points), description="labelled")
        self.status = ipywidgets.HTML()
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.previous_button, self.next_button, self.date]),
            self.status, self.progress, self.map,
            ipywidgets.GridBox([*self.class_buttons.values(), self.unsure_button],
                               layout=ipywidgets.Layout(grid_template_columns="repeat(4, auto)")),
        ])
        self.go(self.position)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _latlon(self, position: int) -> tuple[float, float]:
        point = self.points.iloc[position]
        return maps.latlon(point["x"], point["y"], self.points.crs)

    def go(self, position: int) -> None:
        """Move to the point at `position` (clamped to the sample) and zoom the map to it."""
        self.position = min(max(position, 0), len(self.points) - 1)
        location = self._latlon(self.position)
        self.marker.location = location
        self.map.center, self.map.zoom = location, self.zoom
        self._show_status()

    def label(self, code: int) -> None:
        """Give the current point `code` (a class, or sampling.UNSURE), save the file, move to the next unlabelled point."""
        before = self.points.loc[self.points.index[self.position], [sampling.LABEL, "label_source"]].copy()
        sampling.set_label(self.points, self.position, code, self.source)
        try:
            sampling.write_points(self.points, self.path)
        except errors.OutputError as err:
            self.points.loc[self.points.index[self.position], [sampling.LABEL, "label_source"]] = before.to_numpy()
            self._show_status()
            self.status.value += f"<br><b>Not saved</b>: {err}"
            return
        later = self.points.iloc[self.position + 1 :][sampling.LABEL].isna().to_numpy().nonzero()[0]
        following = self.position + 1 + int(later[0]) if later.size else sampling.first_unlabelled(self.points)
        self.go(self.position if following is None else following)

    def show_date(self, name: str) -> None:
        """Show the true colour of the image `name` under the point (or none)."""
        layers = [layer for layer in self.map.layers if layer is not self._true_colour]
        self._true_colour = None
        if name in self.images:
            if name not in self._true_colour_layers:
                self._true_colour_layers[name] = maps.true_colour_layer(self.images[name])
                self._true_colour_layers[name].name = f"True colour {name}"
            self._true_colour = self._true_colour_layers[name]
            layers.insert(1, self._true_colour)  # just above the basemap, under the class layers and the ring
        self.map.layers = tuple(layers)

    def _show_status(self) -> None:
        point = self.points.iloc[self.position]
        labels = self.points[sampling.LABEL]
        done, unsure = int(labels.notna().sum()), int((labels == sampling.UNSURE).sum())
        current = point[sampling.LABEL]
        given = "not yet labelled" if pd.isna(current) else (
            "unsure" if current == sampling.UNSURE else f"labelled {current} {scheme.get(int(current)).name}")
        mapped = scheme.get(int(point["map_class"]))
        said = "" if self.blind else f" the map says {mapped.id} {mapped.name};"
        self.progress.value = done
        self.status.value = (
            f"<b>Point {self.position + 1} of {len(self.points)}</b> (id {point['point_id']}):{said} {given}. "
            f"Labelled {done} ({unsure} unsure), {len(self.points) - done} to go."
        )
