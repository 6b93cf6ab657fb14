"""The course book in a real browser, offline: every notebook executed in quick mode (the suite's shared runs,
tests/quick_runs.py) and built with `tools/book.py` as `make book QUICK=1` builds them, served on 127.0.0.1 and
opened in headless Chromium with every non-local request blocked. What a reader would see is checked on the pages themselves:
no JavaScript error on any page of the book, every widget of every page drawn, every class overlay decoded and
drawn in the scheme's colours (no interpolated blends), the legend's ten classes, and the two side-by-side panes
showing the same place after load, zoom and pan.
"""

import base64
import functools
import http.server
import io
import os
import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

from lulc_helpers import scheme
from lulc_helpers.paths import project_root
from tests.quick_runs import WIDGET_JS, quick_book, widget_js_fetched

CHROMIUM = "/usr/bin/chromium"
# Chromium as root in a container, and none of its own calls home (they would be blocked, noisily)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOK_04 = project_root() / "notebooks" / "04_gee_classifiers.ipynb"
COLOUR_TOLERANCE = 3  # per RGB channel: PNG colours reach the screen unchanged, so only rounding is allowed
PANE_TOLERANCE_PX = 2
VIEWPORT = {"width": 1400, "height": 1000}
PAGES_AT_ONCE = 6  # tabs loading pages side by side in one browser context
BACKDROP = (255, 0, 255)  # behind the overlay under test, so transparent (no data) pixels can be told apart
# Leaflet sets window.L when jupyter-leaflet loads; the setter registers every map as it is created
TRACK_MAPS = """
(() => {
  let leaflet;
  window.__maps = [];
  Object.defineProperty(window, "L", {
    configurable: true,
    get() { return leaflet; },
    set(value) {
      leaflet = value;
      if (value && value.Map && !value.Map.__tracked) {
        value.Map.__tracked = true;
        value.Map.addInitHook(function () { window.__maps.push(this); });
      }
    },
  });
})();
"""


def _require(condition: bool, reason: str) -> None:
    """Skip outside CI; in CI (CI=true) a missing browser or JavaScript copy is a failure."""
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    _require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require(False, "playwright is not installed (pip install playwright)")
    _require(widget_js_fetched(), f"the widget JavaScript is not in {WIDGET_JS}: run `make widget-js` (needs npm)")
    started = time.perf_counter()
    html = quick_book()  # both pytest-xdist workers may run tests of this file; the book is built once
    print(f"\nbook of the notebooks' quick runs ready in {time.perf_counter() - started:.0f} s")
    return html


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Visit:
    """A page opened offline, with what went wrong on the way recorded. `opener` is the browser (a page in a
    context of its own) or a context (pages sharing its cache); `wait_until` as in Playwright's `goto`. `goto`
    opens another page in the same tab, its records started anew (a new tab costs more than the page itself)."""

    def __init__(self, opener, base: str, page_name: str, wait_until: str = "load"):
        self.page = opener.new_page(**({"viewport": VIEWPORT} if hasattr(opener, "new_context") else {}))
        self.base = base
        self.page.add_init_script(TRACK_MAPS)
        # only what is not local goes through Python (a pattern Playwright matches in the browser)
        self.page.route(re.compile(rf"^(?!{re.escape(base)}|data:)"), self._route)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        # resource failures are reported below with their URLs (blocked ones are expected)
        self.page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                     and self.errors.append(f"console: {m.text}"))
        self.page.on("requestfailed", lambda r: r.url.startswith(base) and self.local_failures.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.local_failures.append(f"{r.status} {r.url}"))
        self.goto(page_name, wait_until)

    def goto(self, page_name: str, wait_until: str = "load") -> None:
        self.blocked, self.errors, self.local_failures = [], [], []
        self.page.goto(self.base + page_name, wait_until=wait_until)

    def _route(self, route):
        self.blocked.append(route.request.url)
        route.abort()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def maps_page(server, browser):  # the site is built before the browser starts
    visit = Visit(browser, server, f"{NOTEBOOK_04.stem}.html")
    visit.page.wait_for_function(
        "() => window.__maps.length >= 3 && [...document.querySelectorAll('img.leaflet-image-layer')]"
        ".every(img => img.complete) && document.querySelectorAll('img.leaflet-image-layer').length >= 3",
        timeout=60_000)
    visit.page.wait_for_timeout(500)  # the last views settle (legend, layer control)
    yield visit
    visit.page.close()


def _pane_pair(page):
    """Indices (in window.__maps) of the side-by-side panes: two maps in one row."""
    boxes = page.evaluate("() => window.__maps.map(m => { const r = m.getContainer().getBoundingClientRect();"
                          " return [r.left, r.top, r.width, r.height]; })")
    rows = [(i, j) for i in range(len(boxes)) for j in range(len(boxes))
            if boxes[i][0] < boxes[j][0] and abs(boxes[i][1] - boxes[j][1]) < 1 and boxes[i][3] > 0]
    assert len(rows) == 1, f"expected one pair of maps side by side, found {rows} among {boxes}"
    return rows[0]


PANE_OFFSET = """([a, b]) => {
  const [left, right] = [window.__maps[a], window.__maps[b]];
  const overlay = Object.values(left._layers).find(l => l instanceof L.ImageOverlay);
  const point = overlay.getBounds().getCenter();
  const p = left.latLngToContainerPoint(point), q = right.latLngToContainerPoint(point);
  const size = m => [m.getContainer().clientWidth, m.getContainer().clientHeight, m.getSize().x, m.getSize().y];
  return {offset: Math.hypot(p.x - q.x, p.y - q.y), zoom: [left.getZoom(), right.getZoom()],
          centre: [left.getCenter().lat, left.getCenter().lng],
          sizes: [size(left), size(right)]};
}"""
# the panes have settled: same zoom, and their centres (Leaflet snaps each to whole pixels) under a pixel apart
IN_STEP = """([a, b]) => {
  const [left, right] = [window.__maps[a], window.__maps[b]];
  const p = left.latLngToContainerPoint(left.getCenter()), q = left.latLngToContainerPoint(right.getCenter());
  return left.getZoom() === right.getZoom() && Math.hypot(p.x - q.x, p.y - q.y) < 1;
}"""


def _pane_offset(page, pair):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_timeout(300)  # a move ends, its view writes the model, the link moves the other map
    try:
        page.wait_for_function(IN_STEP, arg=list(pair), timeout=5_000)
    except PlaywrightTimeout:
        pass  # panes that never agree: the offset below says by how much
    return page.evaluate(PANE_OFFSET, list(pair))


def test_no_javascript_errors_and_nothing_local_missing(maps_page):
    assert maps_page.errors == []
    assert maps_page.local_failures == []
    # the only requests that leave the machine are basemap tiles, badges and web fonts, none of which the maps need
    assert maps_page.page.evaluate("() => window.__maps.length") >= 3


def test_every_overlay_decoded(maps_page):
    sizes = maps_page.page.evaluate(
        "() => [...document.querySelectorAll('img.leaflet-image-layer')].map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(sizes) >= 3
    assert all(w > 0 and h > 0 for w, h in sizes), sizes


def test_side_by_side_panes_show_the_same_place_after_load_zoom_and_pan(maps_page):
    page = maps_page.page
    a, b = _pane_pair(page)
    loaded = _pane_offset(page, (a, b))
    assert loaded["offset"] <= PANE_TOLERANCE_PX, loaded
    sizes = loaded["sizes"]  # [container width, height, Leaflet's width, height] of each pane
    assert abs(sizes[0][0] - sizes[1][0]) <= PANE_TOLERANCE_PX, f"panes of different widths: {sizes}"
    for size in sizes:  # Leaflet knows each pane's real size (a squeezed pane draws off-centre)
        assert abs(size[0] - size[2]) <= PANE_TOLERANCE_PX and abs(size[1] - size[3]) <= PANE_TOLERANCE_PX, sizes

    # as a reader would: the left pane's zoom button, then a drag across it
    pane = page.evaluate_handle("(a) => window.__maps[a].getContainer()", a).as_element()
    pane.scroll_into_view_if_needed()
    pane.query_selector(".leaflet-control-zoom-in").click()
    zoomed = _pane_offset(page, (a, b))
    assert zoomed["zoom"][0] == loaded["zoom"][0] + 1, zoomed
    assert zoomed["offset"] <= PANE_TOLERANCE_PX, zoomed

    box = pane.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 12 * step, y + 8 * step)
    page.mouse.up()
    panned = _pane_offset(page, (a, b))
    assert panned["centre"] != zoomed["centre"], "the drag did not pan the map"
    assert panned["offset"] <= PANE_TOLERANCE_PX, panned
    assert maps_page.errors == [], "errors while zooming and panning"
    print(f"pane offset: load {loaded['offset']:.2f} px, zoom {zoomed['offset']:.2f} px, pan {panned['offset']:.2f} px")


def _decoded(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGBA"))


def _scheme_share(rgb: np.ndarray, opacity: float = 1.0) -> float:
    """Share of pixels within COLOUR_TOLERANCE of a scheme colour drawn at `opacity` over the backdrop (pixels of
    the backdrop left out)."""
    colours = np.array([scheme.rgb(code) for code in range(1, 11)], dtype=float)
    colours = np.round(opacity * colours + (1 - opacity) * np.array(BACKDROP)).astype(np.int16)
    pixels = rgb.reshape(-1, 3).astype(np.int16)
    pixels = pixels[np.abs(pixels - np.array(BACKDROP)).max(axis=1) > COLOUR_TOLERANCE]
    near = (np.abs(pixels[:, None, :] - colours[None, :, :]).max(axis=2) <= COLOUR_TOLERANCE).any(axis=1)
    return float(near.mean()) if len(pixels) else 0.0


ISOLATE = """([index, backdrop]) => {
  const images = [...document.querySelectorAll('img.leaflet-image-layer')];
  const target = images[index], map = target.closest('.leaflet-container');
  map.scrollIntoView({block: 'center'});
  for (const img of images) img.style.visibility = img === target ? 'visible' : 'hidden';
  map.querySelectorAll('.leaflet-tile-pane, .leaflet-control-container, .leaflet-overlay-pane > svg, .leaflet-marker-pane').forEach(e => e.style.visibility = 'hidden');
  map.style.background = backdrop;
  const r = target.getBoundingClientRect(), c = map.getBoundingClientRect();
  const x0 = Math.max(r.left, c.left, 0), y0 = Math.max(r.top, c.top, 0);
  const x1 = Math.min(r.right, c.right, innerWidth), y1 = Math.min(r.bottom, c.bottom, innerHeight);
  return {x: Math.ceil(x0), y: Math.ceil(y0), width: Math.floor(x1 - x0) - 1, height: Math.floor(y1 - y0) - 1};
}"""
RESTORE = """() => {
  document.querySelectorAll('img.leaflet-image-layer').forEach(img => img.style.visibility = '');
  document.querySelectorAll('.leaflet-container').forEach(map => {
    map.style.background = '';
    map.querySelectorAll('.leaflet-tile-pane, .leaflet-control-container, .leaflet-overlay-pane > svg, .leaflet-marker-pane').forEach(e => e.style.visibility = '');
  });
}"""


def _overlay_shares(page) -> dict[int, float]:
    """Each class overlay of the page alone on a magenta backdrop, screenshot where it is on screen: the share of
    its pixels in a scheme colour (at the layer's opacity). A pixel that is none is a blend of two classes
    (interpolation) or something drawn over the map."""
    images = page.evaluate("() => [...document.querySelectorAll('img.leaflet-image-layer')]"
                           ".map(i => [i.src, Number(getComputedStyle(i).opacity)])")
    class_overlays = {}
    for index, (source, opacity) in enumerate(images):
        image = _decoded(source)
        if _scheme_share(image[image[..., 3] > 0][:, :3]) > 0.999:  # a class map (the true-colour image is not)
            class_overlays[index] = opacity
    assert class_overlays, "no class overlay on the page"
    shares = {}
    try:
        for index, opacity in class_overlays.items():
            clip = page.evaluate(ISOLATE, [index, "rgb({}, {}, {})".format(*BACKDROP)])
            assert clip["width"] > 50 and clip["height"] > 50, clip
            shot = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB"))
            shares[index] = _scheme_share(shot, opacity)
    finally:
        page.evaluate(RESTORE)
    print("scheme-colour share of each class overlay on screen:", {k: round(v, 4) for k, v in shares.items()})
    return shares


def test_class_overlays_on_screen_are_scheme_colours(maps_page):
    shares = _overlay_shares(maps_page.page)
    assert min(shares.values()) >= 0.95, shares


def test_the_labellers_reference_layer_is_drawn_nearest_neighbour(server, browser):
    """Notebook 07's point labeller shows the reference at 60 % opacity over the ground: its pixels are the scheme's
    colours at that opacity, never a blend of two classes."""
    visit = Visit(browser, server, "07_quarry_area.html")
    try:
        visit.page.wait_for_function("() => window.__maps.length >= 1 && [...document.querySelectorAll("
                                     "'img.leaflet-image-layer')].some(img => img.complete && img.naturalWidth > 0)",
                                     timeout=60_000)
        shares = _overlay_shares(visit.page)
        assert min(shares.values()) >= 0.95, shares
        assert visit.errors == []
    finally:
        visit.page.close()


# a widget view is drawn: html-manager puts the view in a .widget-subarea just before the view's script
WIDGET_VIEWS_DRAWN = """() => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
  .map(script => { const area = script.previousElementSibling;
                   return !!area && area.classList.contains('widget-subarea') && area.childElementCount > 0; })"""


def _book_pages(site) -> list[str]:
    """Every page of the book (index.html only redirects to intro.html)."""
    return sorted(str(path.relative_to(site)) for path in site.rglob("*.html")
                  if path.name != "index.html" and not {"_static", "_sources"} & set(path.relative_to(site).parts))


def test_every_page_opens_without_javascript_errors_and_draws_its_widgets(site, server, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    failures, widget_pages = {}, []
    context = browser.new_context(viewport=VIEWPORT)
    pages = _book_pages(site)
    tabs = [Visit(context, server, name, wait_until="commit") for name in pages[:PAGES_AT_ONCE]]
    for start in range(0, len(pages), PAGES_AT_ONCE):
        batch = dict(zip(pages[start:start + PAGES_AT_ONCE], tabs))
        if start:
            for name, visit in batch.items():
                visit.goto(name, wait_until="commit")
        for name, visit in batch.items():
            visit.page.wait_for_load_state("load")
            if 'type="application/vnd.jupyter.widget-view+json"' in (site / name).read_text():
                widget_pages.append(name)
                try:
                    visit.page.wait_for_function(f"() => ({WIDGET_VIEWS_DRAWN})().every(Boolean)", timeout=60_000)
                except PlaywrightTimeout:
                    drawn = visit.page.evaluate(WIDGET_VIEWS_DRAWN)
                    visit.errors.append(f"{drawn.count(False)} of {len(drawn)} widget views not drawn")
        visit.page.wait_for_timeout(300)  # errors thrown after load (MathJax, late widget views)
        failures.update({name: visit.errors + visit.local_failures for name, visit in batch.items()
                         if visit.errors or visit.local_failures})
    context.close()
    print(f"widget pages: {widget_pages}")
    # the pages known to hold widgets are among them: maps (04, 07), the slider (05), progress bars (03, 08)
    assert {"03_unet_training.html", "04_gee_classifiers.html", "05_accuracy_metrics.html", "07_quarry_area.html",
            "08_scaling_up.html"} <= set(widget_pages)
    assert failures == {}


# text and background colours of a map's elements, shadow roots included (geemap's legend is a web component)
MAP_CONTENT = """() => [...document.querySelectorAll('.leaflet-container')].map(map => {
  const elements = [], walk = root => root.querySelectorAll('*').forEach(e => {
    elements.push(e);
    if (e.shadowRoot) walk(e.shadowRoot);
  });
  walk(map);
  const text = elements.flatMap(e => [...e.childNodes].filter(n => n.nodeType === Node.TEXT_NODE))
    .map(n => n.textContent.trim()).filter(Boolean);
  return {text, colours: elements.map(e => getComputedStyle(e).backgroundColor)};
})"""


def test_legend_lists_the_ten_classes_in_their_colours(maps_page):
    names = [scheme.get(code).name for code in range(1, 11)]
    colours = {"rgb({}, {}, {})".format(*scheme.rgb(code)) for code in range(1, 11)}
    contents = maps_page.page.evaluate(MAP_CONTENT)
    legends = [c for c in contents if all(any(name in text for text in c["text"]) for name in names)]
    assert legends, f"no map lists the ten classes {names}"
    for legend in legends:
        assert colours <= set(legend["colours"]), f"legend swatches missing {colours - set(legend['colours'])}"


def test_slider_renders_offline(server, browser):
    visit = Visit(browser, server, "slider.html")
    try:
        slider = visit.page.locator(".widget-slider, .widget-hslider").first
        slider.wait_for(state="visible", timeout=30_000)
        readout = visit.page.locator(".widget-readout").first.inner_text()
        figure = visit.page.locator(".widget-output img, .jp-OutputArea-output img").first
        figure.wait_for(state="visible", timeout=10_000)
        assert readout.strip() == "10"  # the middle of [1, 10, 100], the widget's starting ratio
        assert figure.evaluate("img => img.naturalWidth") > 0
        assert visit.errors == [] and visit.local_failures == []
    finally:
        visit.page.close()


def test_reference_pages_render_offline(server, browser):
    """The CLI reference (generated from the parser) and an API page (from the docstrings), as a reader sees them."""
    visit = Visit(browser, server, "reference/cli.html")
    try:
        text = visit.page.locator("main").inner_text()
        assert "lulc sample" in text and "--target-se" in text and "--anticipated-ua" in text
        visit.page.goto(server + "reference/api/lulc_helpers.metrics.html", wait_until="load")
        signature = visit.page.locator("dt.sig", has_text="stratified_estimates").first
        signature.wait_for(state="visible", timeout=10_000)
        assert visit.errors == [] and visit.local_failures == []
    finally:
        visit.page.close()
