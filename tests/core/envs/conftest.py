"""Helpers of the environment tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def importable_module(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    """Write ``source`` as module ``name`` in ``folder`` and make it importable here and in
    spawned worker processes (they inherit ``sys.path``); returns ``name``. A module that
    registers Gymnasium ids is then usable as ``gymnasium:<name>:<id>``."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(folder))
    return name
