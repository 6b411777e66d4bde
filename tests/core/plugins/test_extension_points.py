"""A third-party distribution installed with pip uses each extension point of dojo.

``extension_example/`` is a pip-installable distribution (``dojo-extras-example``) with

- ``l2_anchor``: a behavior section whose add-on decays the policy's weights after each update
  of whatever trainer the behavior uses (PPO and SAC here, neither of which knows it);
- ``random_opponent``: a behavior section whose trainer wrapper acts at random for every other
  agent and keeps their experience from the trainer;
- ``triangular``: an environment-parameter sampler;
- ``steps_done``: a lesson completion criterion.

Each is found (``dojo plugins``), reports settings errors with dotted paths, and runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from tests.core.plugins.helpers import (
    CARTPOLE_BEHAVIOR,
    SHORT_SAC_BEHAVIOR,
    command_env,
    run_command,
    scalars,
    write_config,
)

EXAMPLE = Path(__file__).parent / "extension_example"

SAC_PENDULUM = {**SHORT_SAC_BEHAVIOR, "max_steps": 600, "summary_freq": 300}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` the example distribution into a folder of its own."""
    root = tmp_path_factory.mktemp("extras")
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(EXAMPLE)],
        check=True,
        cwd=root,
    )  # fmt: skip
    assert (site / "dojo_extras_example" / "plugin.py").exists()
    return site


def _learn(site: Path, cwd: Path, config: Path, run_id: str, *args: str):
    run = run_command(
        "mlagents-learn", config, f"--run-id={run_id}", "--seed=1", *args, site=site, cwd=cwd,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return run


def test_each_component_is_found(site: Path, tmp_path: Path) -> None:
    listing = run_command("dojo", "plugins", site=site, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "dojo-extras-example" in out
    assert "behavior sections: l2_anchor, random_opponent" in out
    assert "samplers: triangular" in out
    assert "completion criteria: steps_done" in out


def test_settings_errors_carry_dotted_paths(site: Path, tmp_path: Path) -> None:
    behavior = {
        **CARTPOLE_BEHAVIOR,
        "l2_anchor": {"coefficient": -1},
        "random_opponent": {"evry": 3},
    }
    parameters = {
        "length": {
            "sampler_type": "triangular",
            "sampler_parameters": {"low": 0.4, "mode": 2.0, "high": 0.6},
        },
        "gravity": {
            "curriculum": [
                {
                    "name": "easy",
                    "value": 5.0,
                    "completion_criteria": {"behavior": "CartPole", "measure": "steps_don"},
                },
                {"name": "hard", "value": 9.8},
            ]
        },
    }
    config = write_config(tmp_path / "bad.yaml", behavior, environment_parameters=parameters)
    check = run_command("dojo", "config", "check", config, site=site, cwd=tmp_path)
    assert check.returncode == 1
    err = check.stderr
    assert "behaviors.CartPole.l2_anchor.coefficient: must be ≥ 0.0, got -1" in err
    assert "behaviors.CartPole.random_opponent.evry: unknown key. Did you mean 'every'?" in err
    assert "environment_parameters.length.sampler_parameters.mode: must lie between" in err
    assert "unknown completion criterion 'steps_don'" in err and "'steps_done'" in err
    assert "Traceback" not in err


def test_hook_register_behavior_sections_add_on_on_ppo_checkpoints_and_resumes(
    site: Path, tmp_path: Path
) -> None:
    behavior = {**CARTPOLE_BEHAVIOR, "l2_anchor": {"coefficient": 0.5}}
    config = write_config(
        tmp_path / "ppo.yaml", behavior, env_settings={"env_path": "gymnasium:CartPole-v1"}
    )
    _learn(site, tmp_path, config, "anchor", "--num-envs=4")
    folder = tmp_path / "results" / "anchor" / "CartPole"
    stats = scalars(folder)
    assert stats["Policy/L2 Anchor Updates"]
    assert all(value > 0 for _step, value in stats["Losses/L2 Anchor Loss"])
    # One add-on update per PPO update (every 256 steps of the 1000).
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert int(checkpoint["AddOn:l2_anchor"]["updates"]) == 3

    longer = write_config(
        tmp_path / "longer.yaml",
        {**behavior, "max_steps": 1600},
        env_settings={"env_path": "gymnasium:CartPole-v1"},
    )
    _learn(site, tmp_path, longer, "anchor", "--num-envs=4", "--resume")
    resumed = torch.load(folder / "checkpoint.pt", weights_only=True)
    # Counted on from 3: the resumed run collects 600 more steps, two more updates.
    assert int(resumed["AddOn:l2_anchor"]["updates"]) == 5


def test_the_same_add_on_trains_with_sac(site: Path, tmp_path: Path) -> None:
    behavior = {**SAC_PENDULUM, "l2_anchor": {"coefficient": 0.1}}
    config = tmp_path / "sac.yaml"
    config.write_text(
        json.dumps(
            {
                "behaviors": {"Pendulum": behavior},
                "env_settings": {"env_path": "gymnasium:Pendulum-v1"},
            }
        )
    )
    _learn(site, tmp_path, config, "sac-anchor")
    folder = tmp_path / "results" / "sac-anchor" / "Pendulum"
    stats = scalars(folder)
    assert "Losses/L2 Anchor Loss" in stats
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    # SAC takes a gradient step every 4 steps after the first 100; the add-on runs once after
    # each advance that took some: one per trajectory of 32 steps, about 15 in 500 steps.
    assert 10 <= int(checkpoint["AddOn:l2_anchor"]["updates"]) <= 20


def test_a_wrapper_acts_for_some_agents_and_samplers_and_criteria_are_built(
    site: Path, tmp_path: Path
) -> None:
    behavior = {**CARTPOLE_BEHAVIOR, "random_opponent": {"every": 2}}
    parameters = {
        "length": {"sampler_type": "triangular", "sampler_parameters": {"mode": 0.75}},
        "gravity": {
            "curriculum": [
                {
                    "name": "easy",
                    "value": 5.0,
                    "completion_criteria": {
                        "behavior": "CartPole",
                        "measure": "steps_done",
                        "threshold": 500,
                    },
                },
                {"name": "hard", "value": 9.8},
            ]
        },
    }
    config = write_config(
        tmp_path / "wrapped.yaml",
        behavior,
        env_settings={"env_path": "gymnasium:CartPole-v1"},
        environment_parameters=parameters,
    )
    run = _learn(site, tmp_path, config, "wrapped", "--num-envs=4")
    assert "environment_parameters (length, gravity) are validated but not applied" in (
        run.stdout + run.stderr
    )
    folder = tmp_path / "results" / "wrapped" / "CartPole"
    assert scalars(folder)["Opponent/Random Steps"]
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    # Agents with even ids act at random and are not learned from: the trainer counted its
    # 1000 steps from the others' experience only (counting every agent's, the run would
    # have stopped with about 500), while about as many random steps were taken besides.
    assert int(checkpoint["global_step"]) >= 1000
    assert 500 <= int(checkpoint["Wrapper:random_opponent"]["random_steps"]) <= 2000

    # The core builds the sampler and the criterion through their factories.
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from dojo.api import LessonProgress
        from dojo.config.loader import load_run_options
        from dojo.env_parameters.build import build_environment_parameters
        from dojo.plugin_host import load_plugins

        host = load_plugins()
        options = load_run_options(sys.argv[1], {}, host)
        plans = [build_environment_parameters(host, options.environment_parameters, 7)
                 for _ in range(2)]
        length = [plan["length"].lessons[0].value for plan in plans]
        draws = [[s.sample() for _ in range(4000)] for s in length]
        easy = plans[0]["gravity"].lessons[0]
        progress = LessonProgress(step=640, max_steps=1000, episode_rewards=())
        print(json.dumps({
            "type": type(length[0]).__name__,
            "same": draws[0] == draws[1],
            "mean": float(np.mean(draws[0])), "min": min(draws[0]), "max": max(draws[0]),
            "criterion": type(easy.completion).__name__,
            "measure": easy.completion.measure(progress),
            "threshold": easy.completion.threshold,
        }))
        """
    )
    built = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=command_env(site, tmp_path / ".cache"),
        check=False,
    )
    assert built.returncode == 0, built.stderr
    facts = json.loads(built.stdout.splitlines()[-1])
    assert facts["type"] == "TriangularSampler"
    assert facts["same"]  # one run seed, one sequence
    assert abs(facts["mean"] - (0.0 + 0.75 + 1.0) / 3) < 0.02
    assert facts["min"] >= 0.0 and facts["max"] <= 1.0
    assert (facts["criterion"], facts["measure"], facts["threshold"]) == ("StepsDone", 640.0, 500)
