"""``dojo demo info`` and ``dojo demo export``, run as the real ``dojo`` command on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dojo_imitation.demo_reader import load_demonstration
from tests.core.plugins.helpers import run_command

DEMOS = Path("/work/shared/data/mlagents-demos")
BALL, VISUAL = DEMOS / "3DBall.demo", DEMOS / "VisualDiscrete.demo"


def dojo(tmp_path: Path, *args: str | Path):
    return run_command("dojo", *args, site=None, cwd=tmp_path)


def test_dojo_help_lists_the_demo_command(tmp_path: Path) -> None:
    result = dojo(tmp_path, "--help")
    assert result.returncode == 0
    assert "demo" in result.stdout and "show or export ML-Agents .demo files" in result.stdout


def test_info_of_3dball(tmp_path: Path) -> None:
    result = dojo(tmp_path, "demo", "info", BALL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"file {BALL}: API version 1, name '3DBall', 2144 steps, 22 episodes, mean reward 9.70017"
    )
    assert "behavior: 3DBall (id 3DBall?team=0)" in lines
    assert "  obs_0: [8] (vector)" in lines
    assert "actions: 2 continuous, discrete branches none" in lines
    assert "steps: 2144 (from 22 agents)" in lines
    assert "episodes: 22 (21 done flags, 21 at the maximum step count)" in lines
    assert "mean reward: 9.70017" in lines


def test_info_of_visual_discrete(tmp_path: Path) -> None:
    result = dojo(tmp_path, "demo", "info", VISUAL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"file {VISUAL}: API version 1, name 'bcvis', 38 steps, 1 episode,")
    assert "behavior: VisualFoodCollectorLearning (id VisualFoodCollectorLearning)" in lines
    assert "  obs_0: [3, 84, 84] (image [channels, height, width])" in lines
    assert "  obs_1: [0] (vector)" in lines
    assert "actions: 0 continuous, discrete branches 3, 3, 3, 2" in lines
    assert "steps: 38 (from 1 agent)" in lines


def test_info_of_a_folder_lists_each_file(tmp_path: Path) -> None:
    folder = tmp_path / "demos"
    folder.mkdir()
    for name in ("a.demo", "b.demo"):
        (folder / name).write_bytes((DEMOS / "3DBall-short.demo").read_bytes())
    result = dojo(tmp_path, "demo", "info", folder)
    assert result.returncode == 0, result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith("file ")]
    assert len(headers) == 2
    assert headers[0].startswith(f"file {folder / 'a.demo'}: API version 1, name 'test4', 25 ")
    assert headers[1].startswith(f"file {folder / 'b.demo'}: ")
    assert "steps: 50 (from 1 agent)" in result.stdout.splitlines()


@pytest.mark.parametrize("demo_file", [BALL, VISUAL], ids=["3DBall", "VisualDiscrete"])
def test_export_writes_what_the_reader_reads(tmp_path: Path, demo_file: Path) -> None:
    out = tmp_path / "steps.npz"
    result = dojo(tmp_path, "demo", "export", demo_file, out)
    assert result.returncode == 0, result.stderr
    expected = load_demonstration(demo_file)
    with np.load(out) as arrays:
        observations = sorted(name for name in arrays.files if name.startswith("obs_"))
        assert observations == [f"obs_{i}" for i in range(len(expected.observations))]
        for i, observation in enumerate(expected.observations):
            np.testing.assert_array_equal(arrays[f"obs_{i}"], observation)
            assert arrays[f"obs_{i}"].dtype == np.float32
        for name, attribute in [
            ("continuous_actions", "continuous_actions"),
            ("discrete_actions", "discrete_actions"),
            ("rewards", "rewards"),
            ("done", "dones"),
            ("interrupted", "interrupted"),
            ("agent_ids", "agent_ids"),
        ]:
            np.testing.assert_array_equal(arrays[name], getattr(expected, attribute))
            assert arrays[name].shape[0] == expected.steps
        assert "action_masks" not in arrays.files  # these files recorded no masks
    assert f"Wrote {expected.steps} steps" in result.stdout


def test_export_shapes_of_3dball(tmp_path: Path) -> None:
    out = tmp_path / "ball"  # written as named: numpy would otherwise append .npz
    assert dojo(tmp_path, "demo", "export", BALL, out).returncode == 0
    with np.load(out) as arrays:
        shapes = {name: arrays[name].shape for name in arrays.files}
    assert shapes == {
        "obs_0": (2144, 8),
        "continuous_actions": (2144, 2),
        "discrete_actions": (2144, 0),
        "rewards": (2144,),
        "done": (2144,),
        "interrupted": (2144,),
        "agent_ids": (2144,),
    }


@pytest.mark.parametrize("action", ["info", "export"])
def test_a_missing_file_is_one_error_line(tmp_path: Path, action: str) -> None:
    missing = tmp_path / "missing.demo"
    extra = [tmp_path / "out.npz"] if action == "export" else []
    result = dojo(tmp_path, "demo", action, missing, *extra)
    assert result.returncode == 1
    assert result.stderr == f"error: {missing}: no such .demo file or folder\n"
    assert result.stdout == ""
    assert not (tmp_path / "out.npz").exists()


def test_a_corrupt_file_is_one_error_line(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.demo"
    corrupt.write_bytes(BALL.read_bytes()[:200])  # cut inside the step records
    result = dojo(tmp_path, "demo", "info", corrupt)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {corrupt}")
    assert "Traceback" not in result.stderr


def test_an_unwritable_output_is_one_error_line(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "steps.npz"
    result = dojo(tmp_path, "demo", "export", BALL, out)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {out}: cannot write the .npz file")
