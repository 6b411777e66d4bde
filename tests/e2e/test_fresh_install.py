"""``pip install ./core ./plugins/ppo`` into a new virtual environment gives a working,
PPO-only ``mlagents-learn`` (DESIGN.md §1), without the Unity protocol's packages or the tests'
onnxruntime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import Completed, cartpole_config, run_command, write_config

REPO = Path(__file__).resolve().parents[2]
# As the Makefile does: torch first and pinned, so pip never resolves a CUDA build.
TORCH = "torch==2.13.0"
INSTALL_TIMEOUT = 900.0

HELP_WITHOUT_TORCH = """\
import sys
from dojo.cli.learn import main
try:
    main(["--help"])
except SystemExit as exit_:
    code = exit_.code
assert code in (0, None), code
heavy = sorted(m for m in ("torch", "onnx", "tensorboard", "gymnasium") if m in sys.modules)
print("imported:", heavy)
"""

#: dojo-core's declared requirements (``Requires-Dist``), as ``[name, marker or ""]`` pairs.
CORE_REQUIREMENTS = """\
import importlib.metadata, json, re
pairs = []
for text in importlib.metadata.requires("dojo-core"):
    requirement, _, marker = text.partition(";")
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())[0]
    pairs.append([name.lower(), marker.strip()])
print(json.dumps(pairs))
"""

UNITY_HINT = (
    "Unity environments need the dojo-unity plugin: install it with 'pip install dojo-unity' "
    "(or 'pip install ./plugins/unity' from a dojo checkout)."
)


def _copy_sources(destination: Path) -> tuple[Path, Path]:
    """Copies of the two distributions, so building them leaves no ``build/`` in the repo."""
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    core = shutil.copytree(REPO / "core", destination / "core", ignore=ignore)
    ppo = shutil.copytree(REPO / "plugins" / "ppo", destination / "ppo", ignore=ignore)
    return Path(core), Path(ppo)


def _checked(completed: Completed) -> Completed:
    assert completed.returncode == 0, completed.describe()
    return completed


@pytest.mark.install
def test_core_and_ppo_install_into_a_fresh_venv_and_train(tmp_path: Path) -> None:
    core, ppo = _copy_sources(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    _checked(run_command([*pip, TORCH], tmp_path, timeout=INSTALL_TIMEOUT))
    _checked(run_command([*pip, str(core), str(ppo)], tmp_path, timeout=INSTALL_TIMEOUT))

    # The installed packages are the copies' wheels, not the repository's editable sources.
    where = _checked(
        run_command([python, "-c", "import dojo, dojo_ppo; print(dojo.__file__)"], tmp_path)
    )
    assert str(venv) in where.stdout
    plugins = _checked(run_command([str(venv / "bin" / "dojo"), "plugins"], tmp_path))
    assert "trainers: ppo" in plugins.stdout

    # (a) --help works and imports none of the heavy libraries.
    help_ = _checked(run_command([str(venv / "bin" / "mlagents-learn"), "--help"], tmp_path))
    assert "--run-id" in help_.stdout and "--resume" in help_.stdout
    imported = _checked(run_command([python, "-c", HELP_WITHOUT_TORCH], tmp_path))
    assert "imported: []" in imported.stdout, imported.stdout

    # (b) it trains CartPole and writes the usual artifacts.
    write_config(tmp_path / "cartpole.yaml", cartpole_config(max_steps=2000))
    trained = _checked(
        run_command(
            [
                str(venv / "bin" / "mlagents-learn"),
                "cartpole.yaml",
                "--run-id=fresh",
                "--seed=0",
                "--results-dir=results",
            ],
            tmp_path,
        )
    )
    assert trained.steps() == [500, 1000, 1500, 2000]
    run_dir = tmp_path / "results" / "fresh"
    for artifact in (
        "CartPole.onnx",
        "CartPole/checkpoint.pt",
        "configuration.yaml",
        "run_logs/timers.json",
        "run_logs/training_status.json",
    ):
        assert (run_dir / artifact).is_file(), artifact
    assert list((run_dir / "CartPole").glob("events.out.tfevents*"))

    # (c) intrinsic reward signals live in dojo-rewards, which this install does not have.
    curious = cartpole_config(max_steps=2000)
    curious["behaviors"]["CartPole"]["reward_signals"] = {"extrinsic": {}, "curiosity": {}}
    write_config(tmp_path / "curious.yaml", curious)
    refused = run_command(
        [str(venv / "bin" / "mlagents-learn"), "curious.yaml", "--results-dir=results2"], tmp_path
    )
    assert refused.returncode == 1
    assert "unknown reward signal 'curiosity'" in refused.stderr
    assert "pip install dojo-rewards" in refused.stderr
    assert not (tmp_path / "results2").exists()

    # (d) no Unity protocol and no onnxruntime: dojo-unity is a plugin, onnxruntime is only in
    # dojo-core's "test" extra. grpcio, protobuf and Pillow may still come with tensorboard or
    # onnx, so what is checked is that dojo-core does not ask for them itself.
    listed = _checked(run_command([python, "-m", "pip", "list", "--format=json"], tmp_path))
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "onnxruntime" not in installed and "dojo-unity" not in installed, sorted(installed)
    declared = json.loads(_checked(run_command([python, "-c", CORE_REQUIREMENTS], tmp_path)).stdout)
    runtime = {name for name, marker in declared if "extra" not in marker}
    assert not runtime & {"grpcio", "protobuf", "pillow", "onnxruntime"}, sorted(runtime)
    assert ["onnxruntime", 'extra == "test"'] in declared, declared

    # (e) a Unity build without dojo-unity: one error line naming the package, nothing written.
    build = tmp_path / "Build.x86_64"
    build.write_text("#!/bin/sh\nexit 0\n")
    build.chmod(0o755)
    unity = run_command(
        [str(venv / "bin" / "mlagents-learn"), f"--env={build}", "--results-dir=results3"],
        tmp_path,
    )
    assert unity.returncode == 1, unity.describe()
    (error,) = [line for line in unity.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: --env '") and error.endswith(UNITY_HINT), unity.describe()
    assert "Traceback" not in unity.output
    assert not (tmp_path / "results3").exists()
