"""The ``mlagents-learn`` argument parser: flags, defaults, explicitness, plugin options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dojo.cli.arguments import build_parser, parse_learn_args
from dojo.errors import ConfigError
from dojo.hookspecs import hookimpl
from dojo.plugin_host import load_plugins

ML_AGENTS_DEFAULTS = {
    "trainer_config_path": None,
    "env_path": None,
    "resume": False,
    "load_model": False,
    "force": False,
    "run_id": "ppo",
    "initialize_from": None,
    "seed": -1,
    "train_model": False,
    "inference": False,
    "deterministic": False,
    "base_port": 5005,
    "num_envs": 1,
    "num_areas": 1,
    "debug": False,
    "env_args": None,
    "max_lifetime_restarts": 10,
    "restarts_rate_limit_n": 1,
    "restarts_rate_limit_period_s": 60,
    "results_dir": "results",
    "timeout_wait": 60,
    "width": 84,
    "height": 84,
    "quality_level": 5,
    "time_scale": 20,
    "target_frame_rate": -1,
    "capture_frame_rate": 60,
    "no_graphics": False,
    "no_graphics_monitor": False,
    "device": None,
    "num_threads": None,
}


def test_defaults_are_ml_agents() -> None:
    args = parse_learn_args([])
    assert {k: getattr(args.namespace, k) for k in ML_AGENTS_DEFAULTS} == ML_AGENTS_DEFAULTS
    assert args.overrides == {}
    assert args.config_path is None


def test_every_flag_maps_to_its_section() -> None:
    args = parse_learn_args(
        [
            "c.yaml",
            "--env=Build",
            "--resume",
            "--force",
            "--run-id=r",
            "--initialize-from=old",
            "--seed=1",
            "--inference",
            "--deterministic",
            "--base-port=6000",
            "--num-envs=2",
            "--num-areas=3",
            "--debug",
            "--max-lifetime-restarts=-1",
            "--restarts-rate-limit-n=5",
            "--restarts-rate-limit-period-s=30",
            "--results-dir=out",
            "--timeout-wait=9",
            "--width=10",
            "--height=11",
            "--quality-level=1",
            "--time-scale=2.5",
            "--target-frame-rate=30",
            "--capture-frame-rate=0",
            "--no-graphics",
            "--no-graphics-monitor",
            "--torch-device=cpu",
            "--num-threads=3",
            "--env-args",
            "-x",
            "1",
        ]
    )
    assert args.config_path == "c.yaml"
    assert args.debug is True
    assert args.overrides == {
        "": {"debug": True},
        "behaviors.*.network_settings": {"deterministic": True},
        "checkpoint_settings": {
            "force": True,
            "inference": True,
            "initialize_from": "old",
            "results_dir": "out",
            "resume": True,
            "run_id": "r",
        },
        "env_settings": {
            "base_port": 6000,
            "env_args": ["-x", "1"],
            "env_path": "Build",
            "max_lifetime_restarts": -1,
            "num_areas": 3,
            "num_envs": 2,
            "restarts_rate_limit_n": 5,
            "restarts_rate_limit_period_s": 30,
            "seed": 1,
            "timeout_wait": 9,
        },
        "engine_settings": {
            "capture_frame_rate": 0,
            "height": 11,
            "no_graphics": True,
            "no_graphics_monitor": True,
            "quality_level": 1,
            "target_frame_rate": 30,
            "time_scale": 2.5,
            "width": 10,
        },
        "torch_settings": {"device": "cpu", "num_threads": 3},
    }


def test_only_given_flags_are_overrides() -> None:
    args = parse_learn_args(["c.yaml", "--run-id", "ppo"])
    assert args.overrides == {"checkpoint_settings": {"run_id": "ppo"}}


def test_deprecated_flags_warn(caplog: pytest.LogCaptureFixture) -> None:
    args = parse_learn_args(["--train", "--load", "--torch", "--tensorflow"])
    assert args.overrides["checkpoint_settings"] == {
        "load_model": True,
        "resume": True,
        "train_model": True,
    }
    for text in ("--load option has been deprecated", "--train option has been deprecated"):
        assert text in caplog.text
    assert "--torch option has been removed" in caplog.text
    assert "--tensorflow option has been removed" in caplog.text


def test_removed_old_flags_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match="environment_parameters"):
        parse_learn_args(["--curriculum", "c.yaml"])


def test_bad_value_is_a_user_error() -> None:
    """A ConfigError (printed as one ``error:`` line, exit 1), not argparse's exit 2."""
    with pytest.raises(ConfigError, match="--num-envs: invalid int value: 'many'"):
        parse_learn_args(["--num-envs", "many"])


class _OptionPlugin:
    @hookimpl
    def dojo_add_cli_options(self, parser) -> None:
        parser.add_argument("--myplugin-level", type=int, default=1)


def test_plugins_add_options() -> None:
    host = load_plugins(extra_plugins=(("opt", _OptionPlugin()),))
    assert "--myplugin-level" in build_parser(host).format_help()
    args = parse_learn_args(["--myplugin-level", "4"], host)
    assert args.plugin_options == {"myplugin_level": 4}
    assert args.overrides == {}


def test_help_lists_every_public_flag() -> None:
    text = build_parser().format_help()
    for flag in (
        "--env", "--resume", "--force", "--run-id", "--initialize-from", "--seed",
        "--inference", "--deterministic", "--base-port", "--num-envs", "--num-areas", "--debug",
        "--env-args", "--max-lifetime-restarts", "--restarts-rate-limit-n",
        "--restarts-rate-limit-period-s", "--torch", "--tensorflow", "--results-dir",
        "--timeout-wait", "--width", "--height", "--quality-level", "--time-scale",
        "--target-frame-rate", "--capture-frame-rate", "--no-graphics", "--no-graphics-monitor",
        "--torch-device", "--num-threads",
    ):  # fmt: skip
        assert flag in text, flag


def test_parsing_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from dojo.cli.arguments import build_parser, parse_learn_args\n"
        "from dojo.plugin_host import load_plugins\n"
        "host = load_plugins()\n"
        "build_parser(host).format_help()\n"
        "parse_learn_args(['c.yaml', '--deterministic'], host)\n"
        "import dojo.config.loader, dojo.config.explain\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
