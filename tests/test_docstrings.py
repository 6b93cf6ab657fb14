"""Every public function and class of lulc_helpers documents itself in NumPy style, for the API reference.

Found by walking the package's source (no import): a module-level function or class whose name has no leading
underscore, in a module whose name has none. A function needs a docstring, a `Parameters` section when it takes
parameters and a `Returns` (or `Yields`) section when it returns a value; a class needs a docstring.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lulc_helpers"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if not any(p.startswith("_") for p in parts if p != "__init__"):
            yield ".".join(p for p in parts if p != "__init__"), path


MODULES = list(_modules())


def _own_nodes(function):
    """The nodes of a function's body, without those of functions and classes defined inside it."""
    stack = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _parameters(function) -> list[str]:
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a]
    return [n for n in names if n not in ("self", "cls")]


def _returns_value(function) -> bool:
    nodes = list(_own_nodes(function))
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in nodes):
        return True
    return any(isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None) for n in nodes)


def _section(docstring: str, *names: str) -> bool:
    lines = docstring.splitlines()
    return any(line.strip() in names and set(after.strip()) == {"-"} for line, after in zip(lines, lines[1:]))


def problems(source: str) -> list[str]:
    """What the module's public functions and classes lack, one line each."""
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        docstring = ast.get_docstring(node)
        if not docstring:
            found.append(f"{node.name}: no docstring")
        elif isinstance(node, ast.ClassDef):
            continue
        elif _parameters(node) and not _section(docstring, "Parameters"):
            found.append(f"{node.name}: no Parameters section")
        elif _returns_value(node) and not _section(docstring, "Returns", "Yields"):
            found.append(f"{node.name}: no Returns section")
    return found


def test_the_check_finds_what_is_missing():
    source = '''
def documented(x):
    """Twice x.

    Parameters
    ----------
    x : float
        A number.

    Returns
    -------
    float
        ``2 * x``.
    """
    return 2 * x


def no_parameters_section(x):
    """Twice x."""
    return 2 * x


def no_returns_section(x):
    """Twice x.

    Parameters
    ----------
    x : float
        A number.
    """
    def inner():
        return 1
    return 2 * x


def prints(x):
    """Print x.

    Parameters
    ----------
    x : object
        What to print.
    """
    print(x)


def _private(x):
    return x


class Undocumented:
    pass
'''
    assert problems(source) == ["no_parameters_section: no Parameters section",
                                "no_returns_section: no Returns section", "Undocumented: no docstring"]


@pytest.mark.parametrize("name, path", MODULES, ids=[m for m, _ in MODULES])
def test_public_functions_and_classes_are_documented(name, path):
    missing = problems(path.read_text())
    assert not missing, f"{name}: " + "; ".join(missing)


def test_docstrings_cite_no_design_document_outside_the_project():
    """DESIGN.md is not in the repository; the design lives in docs/design.md."""
    cited = [f"{m}: {line.strip()}" for m, path in MODULES for line in path.read_text().splitlines()
             if "DESIGN.md" in line]
    assert not cited, "\n".join(cited)
