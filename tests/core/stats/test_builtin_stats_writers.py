"""The built-in stats-writer plugin registers lazily importable writers."""

from __future__ import annotations

import subprocess
import sys

from dojo.api import StatsWriter
from dojo.plugin_host import load_plugins


def test_builtin_writers_registered_and_loadable() -> None:
    registry = load_plugins(discover=False).registry("stats_writers")
    assert {"tensorboard", "console", "gauges"} <= set(registry.names())
    for name in ("tensorboard", "console", "gauges"):
        entry = registry.get(name)
        assert entry is not None and isinstance(entry.factory, str)
        assert issubclass(entry.load_factory(), StatsWriter)


def test_registration_does_not_import_torch() -> None:
    code = (
        "import sys; from dojo.builtin import stats_writers; from dojo.registry import Registry; "
        "stats_writers.dojo_register_stats_writers(Registry('w', 'w')); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
