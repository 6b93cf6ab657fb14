"""Earth Engine without a server: the recipe of the pinned earthengine-api's own `ee/apitestcase.py`.

Private hooks of earthengine-api (pinned in pyproject.toml): the algorithm list is served from
the wheel's `ee/tests/algorithms.json`, the Cloud API resource and the data-catalogue lookup are
stubbed, so graphs build and serialise offline. Only tests use this; production code never does.
"""

import pytest

ee = pytest.importorskip("ee")
from ee import _state, apitestcase, serializer  # noqa: E402


@pytest.fixture
def ee_offline(monkeypatch):
    """`ee`, initialised offline for one test and reset afterwards."""
    ee.Reset()
    monkeypatch.setattr(ee.data, "_install_cloud_api_resource", lambda: None)
    monkeypatch.setattr(ee.data, "getAlgorithms", apitestcase.GetAlgorithms)
    monkeypatch.setattr(ee.deprecation, "_FetchDataCatalogStac", lambda: {})
    ee.Initialize(None, "", project="offline-test")
    yield ee
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

    # is_compound=False: a plain tree, without the shared-subexpression references of .serialize()
    walk(serializer.encode(obj, is_compound=False, for_cloud_api=True))
    return found


def calls_named(obj, name: str) -> list[dict]:
    return [arguments for function, arguments in invocations(obj) if function == name]
