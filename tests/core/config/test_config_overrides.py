"""Command-line flags override the YAML only when given explicitly (ML-Agents' rule)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dojo.cli.arguments import parse_learn_args
from dojo.config.loader import load_run_options
from dojo.config.settings import RunOptions

YAML = """
behaviors:
  CartPole:
    trainer_type: ppo
    network_settings:
      hidden_units: 64
env_settings:
  env_path: gymnasium:CartPole-v1
  num_envs: 4
  seed: 7
engine_settings:
  time_scale: 5
checkpoint_settings:
  run_id: from_yaml
  results_dir: yaml_results
torch_settings:
  device: cpu
"""


def run(tmp_path: Path, host, *flags: str, text: str = YAML) -> RunOptions:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    args = parse_learn_args([str(path), *flags], host)
    return load_run_options(args.config_path, args.overrides, host)


def test_flags_not_given_keep_yaml_values(tmp_path: Path, host) -> None:
    options = run(tmp_path, host)
    assert options.checkpoint_settings.run_id == "from_yaml"
    assert options.checkpoint_settings.results_dir == "yaml_results"
    assert options.env_settings.num_envs == 4
    assert options.env_settings.seed == 7
    assert options.engine_settings.time_scale == 5.0
    assert options.torch_settings.device == "cpu"
    assert options.behaviors["CartPole"].network_settings.deterministic is False


def test_given_flags_override_yaml(tmp_path: Path, host) -> None:
    options = run(
        tmp_path,
        host,
        "--run-id=cli",
        "--num-envs",
        "2",
        "--seed=3",
        "--time-scale=1",
        "--torch-device=cuda",
        "--num-threads=2",
        "--no-graphics",
        "--debug",
    )
    assert options.checkpoint_settings.run_id == "cli"
    assert options.checkpoint_settings.results_dir == "yaml_results"  # not given
    assert options.env_settings.num_envs == 2
    assert options.env_settings.seed == 3
    assert options.env_settings.env_path == "gymnasium:CartPole-v1"
    assert options.engine_settings.time_scale == 1.0
    assert options.engine_settings.no_graphics is True
    assert options.torch_settings.device == "cuda"
    assert options.torch_settings.num_threads == 2
    assert options.debug is True


def test_flag_equal_to_its_default_still_overrides(tmp_path: Path, host) -> None:
    options = run(tmp_path, host, "--run-id", "ppo")
    assert options.checkpoint_settings.run_id == "ppo"


def test_deterministic_is_pushed_into_every_behavior(tmp_path: Path, host) -> None:
    text = YAML + "default_settings:\n  time_horizon: 32\n"
    text = text.replace("behaviors:\n", "behaviors:\n  Other: {}\n", 1)
    options = run(tmp_path, host, "--deterministic", text=text)
    assert all(b.network_settings.deterministic for b in options.behaviors.values())
    assert options.behaviors["CartPole"].network_settings.hidden_units == 64
    assert options.default_settings.network_settings.deterministic is True


def test_env_args_take_the_rest_of_the_line(tmp_path: Path, host) -> None:
    options = run(tmp_path, host, "--env-args", "--level", "3")
    assert options.env_settings.env_args == ["--level", "3"]


def test_no_config_file_uses_defaults_and_flags(host) -> None:
    args = parse_learn_args(["--env=gymnasium:CartPole-v1", "--run-id=x"], host)
    options = load_run_options(args.config_path, args.overrides, host)
    assert options.behaviors == {}
    assert options.env_settings.env_path == "gymnasium:CartPole-v1"
    assert options.checkpoint_settings.run_id == "x"


def test_bad_flag_value_is_reported_as_from_the_command_line(tmp_path: Path, host) -> None:
    with pytest.raises(Exception, match=r"env_settings.num_areas: must be ≥ 1, got 0\..*command"):
        run(tmp_path, host, "--num-areas=0")


def _both_in_yaml() -> str:
    return YAML.replace(
        "  run_id: from_yaml\n", "  run_id: r\n  resume: true\n  initialize_from: old\n"
    )


def test_resume_wins_when_both_are_in_yaml(tmp_path: Path, host, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dojo"):
        options = run(tmp_path, host, text=_both_in_yaml())
    assert options.checkpoint_settings.resume is True
    assert options.checkpoint_settings.initialize_from is None
    assert "initialize_from is ignored" in caplog.text


def test_explicit_initialize_from_wins_over_yaml_resume(tmp_path: Path, host) -> None:
    options = run(tmp_path, host, "--initialize-from=other", text=_both_in_yaml())
    assert options.checkpoint_settings.resume is False
    assert options.checkpoint_settings.initialize_from == "other"


def test_explicit_resume_wins_over_yaml_initialize_from(tmp_path: Path, host) -> None:
    text = YAML.replace("  run_id: from_yaml\n", "  run_id: r\n  initialize_from: old\n")
    options = run(tmp_path, host, "--resume", text=text)
    assert options.checkpoint_settings.resume is True
    assert options.checkpoint_settings.initialize_from is None


def test_load_is_a_deprecated_alias_of_resume(tmp_path: Path, host, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dojo"):
        options = run(tmp_path, host, "--load")
    assert options.checkpoint_settings.resume is True
    assert options.checkpoint_settings.load_model is True
    assert "--load option has been deprecated" in caplog.text


def test_num_envs_above_one_requires_env(tmp_path: Path, host) -> None:
    text = YAML.replace("  env_path: gymnasium:CartPole-v1\n", "")
    with pytest.raises(Exception, match=r"env_settings\.num_envs: is 4 but env_path is not set"):
        run(tmp_path, host, text=text)
    assert run(tmp_path, host, "--env=Build", text=text).env_settings.env_path == "Build"
