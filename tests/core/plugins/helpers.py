"""Put a plugin in front of the real ``mlagents-learn`` and ``dojo`` commands.

A plugin distribution is a folder on ``PYTHONPATH`` that holds the plugin module and a
``<name>-<version>.dist-info`` folder with ``METADATA`` and ``entry_points.txt``: that is all
``importlib.metadata`` (and stevedore, which reads it) needs to discover the ``dojo.plugins``
entry point. :func:`write_plugin_distribution` writes one directly (fast, no pip);
:func:`pip_install` installs real distribution sources there with pip, as a user would. stevedore
caches entry points per ``sys.path`` in ``$XDG_CACHE_HOME``, so every command runs with a cache
folder of the test's own (a user's cache is never touched).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
#: Short CartPole runs: 4 copies, updates every 256 steps, summaries every 500 steps.
CARTPOLE_BEHAVIOR = {
    "trainer_type": "ppo",
    "hyperparameters": {"batch_size": 256, "buffer_size": 256},
    "max_steps": 1000,
    "summary_freq": 500,
    "time_horizon": 64,
}


#: Short SAC runs: a small network, updates every 4 steps after 100 (set max_steps and
#: summary_freq per test).
SHORT_SAC_BEHAVIOR = {
    "trainer_type": "sac",
    "hyperparameters": {
        "batch_size": 64,
        "buffer_size": 5000,
        "buffer_init_steps": 100,
        "steps_per_update": 4,
    },
    "network_settings": {"hidden_units": 32, "num_layers": 1},
    "time_horizon": 32,
}


def write_plugin_distribution(
    site: Path,
    name: str,
    module_source: str,
    *,
    module: str | None = None,
    entry_point: str | None = None,
    version: str = "0.1",
) -> Path:
    """Write a distribution ``name`` whose ``dojo.plugins`` entry point is ``module``.

    Args:
        site: the folder that goes on ``PYTHONPATH`` (several distributions may share it).
        name: the distribution name (``dojo-bonus``), shown by ``dojo plugins``.
        module_source: the source of the plugin module (dedented).
        module: the module's name; default: ``name`` with dashes as underscores.
        entry_point: the entry-point name; default: ``name`` without a ``dojo-`` prefix.
        version: the distribution's version.

    Returns:
        ``site``.
    """
    module = module or name.replace("-", "_")
    entry_point = entry_point or name.removeprefix("dojo-")
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[dojo.plugins]\n{entry_point} = {module}\n")
    return site


def write_package(folder: Path, files: dict[str, str]) -> Path:
    """Write the source of a distribution: relative path -> text (``pyproject.toml``, modules)."""
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


def pip_install(site: Path, *sources: Path) -> Path:
    """``pip install`` the distributions in the ``sources`` folders into ``site``, in one call.

    ``site`` is a folder of their own, put on ``PYTHONPATH`` by :func:`run_command`: the
    virtual environment is never changed. ``--no-deps`` (dojo is installed already) and
    ``--no-build-isolation`` (the environment's setuptools) keep it off the network.

    Returns:
        ``site``.
    """
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(site), *map(str, sources)],
        check=True,
    )  # fmt: skip
    return site


def command_env(site: Path | None, cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a command that sees the distributions in ``site``."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    env["XDG_CACHE_HOME"] = str(cache)
    env.update(extra)
    return env


def run_command(
    program: str,
    *args: str | Path,
    site: Path | None,
    cwd: Path,
    timeout: float = 120,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``mlagents-learn`` or ``dojo`` of this virtual environment with ``site`` on the path."""
    return subprocess.run(
        [str(BIN / program), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=command_env(site, cwd / ".cache", **extra_env),
        check=False,
    )


def write_config(path: Path, behavior: dict[str, Any], **sections: Any) -> Path:
    """Write a YAML file (JSON is YAML) with one ``CartPole`` behavior and other sections."""
    path.write_text(json.dumps({"behaviors": {"CartPole": behavior}, **sections}, indent=2))
    return path


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The records a test plugin appended to ``path``, one JSON object a line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The TensorBoard scalars written in ``folder``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }
