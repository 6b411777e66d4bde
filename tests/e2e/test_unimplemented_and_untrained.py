"""What a run says instead of silently doing something else than the user asked: ML-Agents
sections no installed plugin provides, and ``--inference`` with a policy that was never
trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import FinishedRun, copy_run
from .helpers import cartpole_config, dojo, learn, learn_until_first_step, write_config

# behavioral_cloning is provided by dojo-imitation, installed here: its own errors are tested
# in tests/imitation/.
UNIMPLEMENTED = {
    "self_play": (
        {"window": 10, "play_against_latest_model_ratio": 0.5},
        "behaviors.CartPole.self_play: unknown behavior section 'self_play'. Installed: "
        "behavioral_cloning. Behavior section 'self_play' (self-play against past versions of "
        "the policy) is not implemented in dojo yet",
    ),
}


@pytest.mark.parametrize("section", list(UNIMPLEMENTED))
def test_a_section_no_plugin_provides_stops_the_run_and_the_check(
    section: str, tmp_path: Path
) -> None:
    settings, message = UNIMPLEMENTED[section]
    write_config(tmp_path / "config.yaml", cartpole_config(**{section: settings}))

    completed = learn(["config.yaml", "--run-id=x", "--results-dir=results"], tmp_path)

    assert completed.returncode == 1, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in completed.output, completed.describe()
    assert message in errors[0], errors[0]
    assert not (tmp_path / "results").exists()
    checked = dojo(["config", "check", "config.yaml"], tmp_path)
    assert checked.returncode == 1, checked.describe()
    assert message in checked.stderr


def test_default_settings_with_an_unimplemented_section_is_named_as_written(
    tmp_path: Path,
) -> None:
    config: dict[str, Any] = cartpole_config()
    config["default_settings"] = {"self_play": {"window": 5}}
    write_config(tmp_path / "config.yaml", config)

    completed = learn(["config.yaml", "--run-id=x", "--results-dir=results"], tmp_path)

    assert completed.returncode == 1, completed.describe()
    assert (
        "error: config.yaml: default_settings.self_play: unknown behavior section 'self_play'"
        in completed.stderr
    )


def test_inference_without_trained_weights_says_the_policy_is_untrained(tmp_path: Path) -> None:
    write_config(tmp_path / "config.yaml", cartpole_config(summary_freq=200))
    completed = learn_until_first_step(
        ["config.yaml", "--run-id=x", "--results-dir=results", "--inference"], tmp_path
    )

    assert completed.returncode == 0, completed.describe()
    warnings = [line for line in completed.output.splitlines() if "untrained" in line]
    assert len(warnings) == 1, completed.describe()
    assert "--inference without --resume or --initialize-from" in warnings[0]
    assert "CartPole" in warnings[0]


def test_inference_of_a_trained_run_does_not_warn(
    cartpole_run: FinishedRun, tmp_path: Path
) -> None:
    run = copy_run(cartpole_run, tmp_path)
    completed = learn_until_first_step(
        [run.config.name, "--run-id=cartpole", "--resume", "--inference", "--results-dir=results"],
        run.cwd,
    )

    assert completed.returncode == 0, completed.describe()
    assert "untrained" not in completed.output
