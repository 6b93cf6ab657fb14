"""Earth Engine without a server: the recipe of the pinned earthengine-api's own `ee/apitestcase.py`.

Private hooks of earthengine-api (pinned in the `test` extra of pyproject.toml): the algorithm list is
served from the wheel's `ee/tests/algorithms.json`, the Cloud API resource and the data-catalogue lookup
are stubbed, so graphs build and serialise offline. Only tests use this; production code never does.
With another earthengine-api installed (the runtime dependency is unpinned) the tests that use the
`ee_offline` fixture are skipped with the reason, or fail in CI (`CI=true`), which installs the pin.
"""

import os
import re
import tomllib
from pathlib import Path

import pytest

ee = pytest.importorskip("ee")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def pinned_version(pyproject: Path = PYPROJECT) -> str:
    """The earthengine-api version the `test` extra pins (`earthengine-api==X`)."""
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["test"]
    (version,) = (m[1] for r in extra if (m := re.fullmatch(r"earthengine-api\s*==\s*(\S+)", r.strip())))
    return version


def require_pinned_ee() -> None:
    """Skip (fail in CI) with a one-line reason unless the installed earthengine-api is the pinned one."""
    wanted = pinned_version()
    if ee.__version__ != wanted:
        reason = (f"offline Earth Engine tests need earthengine-api=={wanted} (the `test` extra of pyproject.toml), "
                  f"found {ee.__version__}: pip install -e '.[test]'")
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def ee_offline(monkeypatch):
    """`ee`, initialised offline for one test and reset afterwards."""
    require_pinned_ee()
    from ee import apitestcase

    ee.Reset()
    monkeypatch.setattr(ee.data, "_install_cloud_api_resource", lambda: None)
    monkeypatch.setattr(ee.data, "getAlgorithms", apitestcase.GetAlgorithms)
    monkeypatch.setattr(ee.deprecation, "_FetchDataCatalogStac", lambda: {})
    ee.Initialize(None, "", project="offline-test")
    yield ee
    from ee import _state

    _state.reset_state()


def invocations(obj) -> list[tuple[str, dict]]:
    """Every function call in an ee object's serialised graph: (functionName, {argument: constant or None})."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            call = node.get("functionInvocationValue")
            if call is not None:
                arguments = {k: v.get("constantValue") for k, v in call.get("arguments", {}).items()}
                found.append((call["functionName"], arguments))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    from ee import serializer

    # is_compound=False: a plain tree, without the shared-subexpression references of .serialize()
    walk(serializer.encode(obj, is_compound=False, for_cloud_api=True))
    return found


def calls_named(obj, name: str) -> list[dict]:
    return [arguments for function, arguments in invocations(obj) if function == name]
