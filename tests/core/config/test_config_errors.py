"""What a user sees for a broken configuration: file, dotted path, value, limit and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dojo.config.loader import load_run_options, read_yaml, resolve_run_options
from dojo.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, host, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_run_options(path, {}, host)
    return str(caught.value)


CARTPOLE = """
behaviors:
  CartPole:
    trainer_type: ppo
    hyperparameters:
      batch_size: {batch_size}
"""


def test_unknown_key_has_dotted_path_and_suggestion(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  CartPole:\n    trainer_type: ppo\n    hyperparameters:\n"
        "      batchsize: 64\n",
    )
    assert message.startswith(f"{tmp_path / 'config.yaml'}: ")
    assert "behaviors.CartPole.hyperparameters.batchsize: unknown key." in message
    assert "Did you mean 'batch_size'?" in message
    assert "Valid keys: batch_size, buffer_size" in message


def test_unknown_top_level_key(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, "behavoirs:\n  CartPole: {}\n")
    assert "behavoirs: unknown key. Did you mean 'behaviors'?" in message


def test_network_key_at_behavior_level_points_to_its_section(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path, host, "behaviors:\n  CartPole:\n    trainer_type: ppo\n    hidden_units: 64\n"
    )
    assert "behaviors.CartPole.hidden_units: unknown key. 'hidden_units' belongs under " in message
    assert "'network_settings'" in message


def test_network_key_under_hyperparameters_points_to_its_section(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n    hyperparameters:\n      num_layers: 3\n",
    )
    assert "behaviors.A.hyperparameters.num_layers: unknown key: 'num_layers' belongs under" in (
        message
    )


def test_wrong_type(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, CARTPOLE.format(batch_size="lots"))
    assert (
        "behaviors.CartPole.hyperparameters.batch_size: expected a whole number, got 'lots'."
        in message
    )


def test_fractional_integer_is_refused(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, CARTPOLE.format(batch_size="64.5"))
    assert "expected a whole number, got 64.5. Round it to 64 or 65." in message


def test_out_of_range_gives_value_limit_and_fix(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, CARTPOLE.format(batch_size=0))
    assert "behaviors.CartPole.hyperparameters.batch_size: must be ≥ 1, got 0." in message
    assert "e.g. 1024" in message


def test_gamma_range(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    reward_signals:\n      extrinsic:\n        gamma: 1.5\n",
    )
    assert "behaviors.A.reward_signals.extrinsic.gamma: must be in (0.0, 1.0], got 1.5." in message


def test_epsilon_final_range(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n"
        "    hyperparameters:\n      epsilon_final: -0.1\n",
    )
    assert "behaviors.A.hyperparameters.epsilon_final: must be in [0.0, 1.0], got -0.1." in message
    assert "0 (Stable-Baselines3)" in message


def test_bad_choice_suggests_the_close_one(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n    hyperparameters:\n"
        "      learning_rate_schedule: linaer\n",
    )
    assert "must be one of linear, constant; got 'linaer'. Did you mean 'linear'?" in message


def test_keys_derived_from_a_bad_value_are_not_named(tmp_path: Path, host) -> None:
    """PPO's beta_schedule and epsilon_schedule follow learning_rate_schedule: only the key the
    user wrote is named."""
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n    hyperparameters:\n"
        "      learning_rate_schedule: linaer\n",
    )
    [line] = message.splitlines()
    assert line.startswith(
        f"{tmp_path / 'config.yaml'}: behaviors.A.hyperparameters.learning_rate_schedule: must be"
    )


def test_missing_required_key_is_still_named(tmp_path: Path, full_host) -> None:
    message = error_of(
        tmp_path, full_host, "behaviors:\n  A:\n    behavioral_cloning:\n      strength: 0.5\n"
    )
    assert "behaviors.A.behavioral_cloning.demo_path: is required." in message


def test_all_problems_are_reported_at_once(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n    hyperparameters:\n      batch_size: 0\n"
        "    time_horizon: -5\nenv_settings:\n  base_port: 0\n",
    )
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(tmp_path / "config.yaml") + ": ") for line in lines)
    assert any("behaviors.A.time_horizon" in line for line in lines)
    assert any("env_settings.base_port: must be in [1, 65535], got 0." in line for line in lines)


def test_memory_size_must_be_even_and_positive(tmp_path: Path, host) -> None:
    text = "behaviors:\n  A:\n    network_settings:\n      memory:\n        memory_size: {}\n"
    odd = error_of(tmp_path, host, text.format(127))
    assert "behaviors.A.network_settings.memory.memory_size: must be even" in odd
    assert "got 127" in odd
    zero = error_of(tmp_path, host, text.format(0))
    assert "memory_size: must be ≥ 1, got 0." in zero


def test_sequence_length_must_fit_in_a_batch(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    trainer_type: ppo\n    hyperparameters:\n      batch_size: 32\n"
        "    network_settings:\n      memory:\n        sequence_length: 64\n",
    )
    assert (
        "behaviors.A.network_settings.memory.sequence_length: must be ≤ "
        "hyperparameters.batch_size (32), got 64" in message
    )


def test_hyperparameters_need_trainer_type(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, "behaviors:\n  A:\n    hyperparameters:\n      beta: 0.1\n")
    assert "behaviors.A.hyperparameters: hyperparameters are given but trainer_type is not" in (
        message
    )


def test_unknown_trainer_type_lists_installed_and_suggests(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, "behaviors:\n  A:\n    trainer_type: ppp\n")
    assert "behaviors.A.trainer_type: unknown trainer type 'ppp'. Installed: ppo." in message
    assert "Did you mean 'ppo'?" in message


def test_unknown_trainer_type_of_a_known_plugin_gives_install_hint(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, "behaviors:\n  A:\n    trainer_type: sac\n")
    assert "unknown trainer type 'sac'. Installed: ppo." in message
    assert "provided by the dojo-sac plugin: install it with 'pip install dojo-sac'" in message


def test_unknown_reward_signal_gives_install_hint(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path, host, "behaviors:\n  A:\n    reward_signals:\n      curiosity: {}\n"
    )
    assert "behaviors.A.reward_signals.curiosity: unknown reward signal 'curiosity'." in message
    assert "pip install dojo-rewards" in message


def test_extrinsic_takes_only_common_keys(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        "behaviors:\n  A:\n    reward_signals:\n      extrinsic:\n        demo_path: x.demo\n",
    )
    assert "behaviors.A.reward_signals.extrinsic.demo_path: unknown key" in message


def test_null_behavior(tmp_path: Path, host) -> None:
    message = error_of(tmp_path, host, "behaviors:\n  A:\n")
    assert "behaviors.A: expected a mapping of trainer settings, got null." in message


def test_same_message_for_many_paths_is_one_line(tmp_path: Path, host) -> None:
    behaviors = "".join(f"  B{i}:\n    trainer_type: sac\n" for i in range(6))
    message = error_of(tmp_path, host, "behaviors:\n" + behaviors)
    assert len(message.splitlines()) == 1
    assert "behaviors.B0.trainer_type, behaviors.B1.trainer_type, behaviors.B2.trainer_type " in (
        message
    )
    assert "(and 3 more)" in message


def test_environment_parameter_errors(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        """
environment_parameters:
  mass:
    sampler_type: unifrom
    sampler_parameters: {min_value: 1, max_value: 2}
  size:
    curriculum:
      - name: Small
        value: 1.0
      - name: Large
        value: 2.0
  flag: true
""",
    )
    assert "environment_parameters.mass.sampler_type: unknown sampler type" in message
    assert "Installed: constant, gaussian, multirangeuniform, uniform" in message
    assert "Did you mean 'uniform'?" in message
    assert "environment_parameters.size.curriculum.0.completion_criteria: is required" in message
    assert "environment_parameters.flag: expected a number or a sampler, got true." in message


def test_progress_threshold_must_be_a_fraction(tmp_path: Path, host) -> None:
    message = error_of(
        tmp_path,
        host,
        """
environment_parameters:
  size:
    curriculum:
      - name: Small
        value: 1.0
        completion_criteria: {behavior: A, measure: progress, threshold: 5}
      - name: Large
        value: 2.0
""",
    )
    assert "curriculum.0.completion_criteria.threshold: must be in [0, 1]" in message


# --------------------------------------------------------------------------------------------
# Reading the file
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file not found"):
        read_yaml(tmp_path / "nope.yaml")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        read_yaml(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the file is empty"):
        read_yaml(write(tmp_path, "# nothing\n"))


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "behaviors:\n  A:\n    trainer_type: ppo\n   bad: [1, 2\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 4")
    assert "invalid YAML" in message


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        read_yaml(write(tmp_path, "- a\n- b\n"))


def test_errors_are_chained(tmp_path: Path, host) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_run_options({"behaviors": {"A": {"time_horizon": 0}}}, {}, host, "x.yaml")
    assert caught.value.__cause__ is not None
