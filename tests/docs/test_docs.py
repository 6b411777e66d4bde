"""The hook reference lists every hook with its exact signature, and every hook is tested."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from dojo import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("dojo_"))


def signature_line(name: str) -> str:
    signature = str(inspect.signature(getattr(hookspecs, name))).replace("'", "")
    return f"def {name}{signature}:"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_documented_with_exact_signature(name: str) -> None:
    text = (ROOT / "docs" / "hooks.md").read_text()
    assert f"### `{name}`" in text
    assert signature_line(name) in text


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{name.removeprefix('dojo_')}" in tests, f"no test_hook_ for {name}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_full_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Args:" in doc and "Returns:" in doc
