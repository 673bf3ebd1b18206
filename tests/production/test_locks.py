"""The two locks stay apart: requirements.lock (the production install) has no test tool, and
requirements-test.lock pins every runtime package at the same version."""

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_TOOLS = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "factory-boy",
    "hypothesis",
    "playwright",
    "schemathesis",
    "ruff",
}


def _pins(name):
    text = (BASE_DIR / name).read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, flags=re.M | re.I))


def test_runtime_lock_has_no_test_tools_and_matches_the_test_lock():
    runtime, test = _pins("requirements.lock"), _pins("requirements-test.lock")
    assert "django" in runtime and "gunicorn" in runtime
    assert not TEST_TOOLS & set(runtime), "regenerate: uv pip compile pyproject.toml -o requirements.lock"
    assert set(test) >= TEST_TOOLS
    assert {name: version for name, version in runtime.items() if test.get(name) != version} == {}
