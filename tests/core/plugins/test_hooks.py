"""One test per hook: what a plugin implementing it achieves for a user.

Most hooks are observed in one real ``mlagents-learn`` run (CartPole, 1,000 steps) with four
throwaway plugin distributions installed: a ``bonus`` reward signal, a ``recorder`` stats
writer, a ``toy:`` environment scheme and a ``watch`` plugin that adds ``--watch-label`` and
records the lifecycle notifications. Trainer types get a run of their own (one behavior, one
trainer); samplers and completion criteria are checked where they act, in config validation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from marshmallow import Schema, fields, validate

from dojo.errors import ConfigError
from dojo.hookspecs import hookimpl
from dojo.plugin_host import PluginHost, load_plugins
from dojo.registry import Registry

from . import plugin_sources
from .helpers import (
    CARTPOLE_BEHAVIOR,
    read_json_lines,
    run_command,
    scalars,
    write_config,
    write_plugin_distribution,
)

BONUS = {"strength": 0.5, "gamma": 0.9, "bonus": 0.2}  # pays 0.5 * 0.2 = 0.1 per step
SEED = 7


@dataclass(frozen=True)
class ObservedRun:
    """A finished ``mlagents-learn`` run and what the test plugins recorded during it."""

    folder: Path
    site: Path
    run_dir: Path
    stdout: str
    watch_log: Path
    toy_log: Path

    @property
    def events(self) -> list[dict[str, Any]]:
        return read_json_lines(self.watch_log)

    def path(self, reported: str) -> Path:
        """A path a plugin was given (relative paths are relative to the run's cwd)."""
        return self.folder / reported

    def of(self, event: str) -> list[dict[str, Any]]:
        return [record for record in self.events if record["event"] == event]


def install_test_plugins(site: Path) -> Path:
    write_plugin_distribution(site, "dojo-bonus", plugin_sources.BONUS_REWARD_SIGNAL)
    write_plugin_distribution(site, "dojo-recorder", plugin_sources.RECORDING_STATS_WRITER)
    write_plugin_distribution(site, "dojo-toy", plugin_sources.TOY_ENVIRONMENTS)
    write_plugin_distribution(site, "dojo-watch", plugin_sources.LIFECYCLE_WATCHER)
    return site


@pytest.fixture(scope="module")
def observed_run(tmp_path_factory: pytest.TempPathFactory) -> ObservedRun:
    folder = tmp_path_factory.mktemp("observed_run")
    site = install_test_plugins(folder / "site")
    behavior = {
        **CARTPOLE_BEHAVIOR,
        "checkpoint_interval": 500,
        "reward_signals": {"extrinsic": {"strength": 1.0, "gamma": 0.99}, "bonus": BONUS},
    }
    config = write_config(folder / "config.yaml", behavior)
    logs = {"WATCH_LOG": str(folder / "watch.jsonl"), "TOY_LOG": str(folder / "toy.jsonl")}
    result = run_command(
        "mlagents-learn",
        config,
        "--env=toy:cartpole",
        "--num-envs=4",
        f"--seed={SEED}",
        "--time-scale=5",
        "--run-id=hooks",
        "--watch-label=nightly",
        site=site,
        cwd=folder,
        **logs,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ObservedRun(
        folder,
        site,
        folder / "results" / "hooks",
        result.stdout,
        Path(logs["WATCH_LOG"]),
        Path(logs["TOY_LOG"]),
    )


# --------------------------------------------------------------------------------------------
# Registration hooks
# --------------------------------------------------------------------------------------------


def test_hook_register_reward_signals(observed_run: ObservedRun) -> None:
    # Its own key is validated by its own schema, in YAML, next to the core's keys ...
    folder, site = observed_run.folder, observed_run.site
    good = write_config(
        folder / "bonus_ok.yaml", {**CARTPOLE_BEHAVIOR, "reward_signals": {"bonus": BONUS}}
    )
    check = run_command("dojo", "config", "check", good, site=site, cwd=folder)
    assert check.returncode == 0, check.stderr
    signal = yaml.safe_load(check.stdout)["behaviors"]["CartPole"]["reward_signals"]["bonus"]
    assert (signal["strength"], signal["gamma"], signal["bonus"]) == (0.5, 0.9, 0.2)
    bad = write_config(
        folder / "bonus_bad.yaml",
        {**CARTPOLE_BEHAVIOR, "reward_signals": {"bonus": {"bonus": -1, "gama": 0.9}}},
    )
    refused = run_command("dojo", "config", "check", bad, site=site, cwd=folder)
    assert refused.returncode == 1
    assert "behaviors.CartPole.reward_signals.bonus.bonus: " in refused.stderr
    assert "behaviors.CartPole.reward_signals.bonus.gama: " in refused.stderr

    # ... and it is trained with: PPO reports its reward and learns a value head for it.
    tags = scalars(observed_run.run_dir / "CartPole")
    assert "Policy/Bonus Value Estimate" in tags
    bonus = dict(tags["Policy/Bonus Reward"])
    lengths = dict(tags["Environment/Episode Length"])
    assert sorted(bonus) == [500, 1000]
    for step, episode_bonus in bonus.items():
        assert episode_bonus == pytest.approx(0.5 * 0.2 * lengths[step], rel=1e-4)


def test_hook_register_stats_writers(observed_run: ObservedRun) -> None:
    records = read_json_lines(observed_run.run_dir / "recorded_stats.jsonl")
    summaries = [record for record in records if "step" in record]
    assert [(r["category"], r["step"]) for r in summaries] == [
        ("CartPole", 500),
        ("CartPole", 1000),
    ]
    tensorboard = scalars(observed_run.run_dir / "CartPole")
    for summary in summaries:
        step = summary["step"]
        for tag in ("Environment/Cumulative Reward", "Policy/Bonus Reward", "Policy/Entropy"):
            # The plugin's writer sees the very numbers the built-in TensorBoard writer does.
            assert summary["values"][tag] == pytest.approx(dict(tensorboard[tag])[step]), tag
    assert {"category": "CartPole", "property": "hyperparameters"} in records
    assert records[-1] == {"closed": True}


def test_hook_register_environments(observed_run: ObservedRun) -> None:
    # The toy: scheme reached the plugin's factory with the target and the run's settings ...
    (call,) = read_json_lines(observed_run.toy_log)
    log_dir = observed_run.path(call.pop("log_dir"))
    assert call == {"target": "cartpole", "num_envs": 4, "seed": SEED, "time_scale": 5.0}
    assert log_dir.resolve() == (observed_run.run_dir / "run_logs").resolve()
    # ... and the environment it returned was trained on to the end.
    status = json.loads((observed_run.run_dir / "run_logs" / "training_status.json").read_text())
    assert status["CartPole"]["final_checkpoint"]["steps"] >= 1000
    assert (observed_run.run_dir / "CartPole.onnx").is_file()
    resolved = yaml.safe_load((observed_run.run_dir / "configuration.yaml").read_text())
    assert resolved["env_settings"]["env_path"] == "toy:cartpole"

    folder, site = observed_run.folder, observed_run.site
    typo = run_command("mlagents-learn", "--env=tyo:cartpole", site=site, cwd=folder)
    assert typo.returncode == 1
    assert "unknown environment 'tyo'" in typo.stderr
    assert (
        "Installed: gymnasium, remote, toy, unity." in typo.stderr
        and "Did you mean 'toy'?" in typo.stderr
    )


def test_hook_register_trainers(tmp_path: Path) -> None:
    site = write_plugin_distribution(
        tmp_path / "site", "dojo-random", plugin_sources.RANDOM_TRAINER
    )
    behavior = {
        "trainer_type": "random",
        "hyperparameters": {"seed_offset": 3},
        "max_steps": 1000,
        "summary_freq": 500,
    }
    config = write_config(tmp_path / "random.yaml", behavior)
    result = run_command(
        "mlagents-learn",
        config,
        "--env=gymnasium:CartPole-v1",
        "--num-envs=4",
        "--run-id=random",
        site=site,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = tmp_path / "results" / "random"
    # The plugin's trainer was built from the YAML (its hyperparameters schema included) ...
    checkpoint = json.loads((run_dir / "CartPole" / "checkpoint.pt").read_text())
    assert checkpoint["hyperparameters"] == {"seed_offset": 3}
    assert checkpoint["step"] >= 1000
    # ... and the core drove it like any trainer: episodes, summaries, status, final model.
    assert sorted(dict(scalars(run_dir / "CartPole")["Environment/Cumulative Reward"])) == [
        500,
        1000,
    ]
    assert "trainer_type: random" in (run_dir / "configuration.yaml").read_text()
    assert (run_dir / "CartPole.onnx").is_file()

    bad = write_config(tmp_path / "bad.yaml", {**behavior, "hyperparameters": {"seed_offset": -1}})
    refused = run_command("dojo", "config", "check", bad, site=site, cwd=tmp_path)
    assert refused.returncode == 1
    assert "behaviors.CartPole.hyperparameters.seed_offset: " in refused.stderr
    typo = write_config(tmp_path / "typo.yaml", {**behavior, "trainer_type": "randon"})
    refused = run_command("dojo", "config", "check", typo, site=site, cwd=tmp_path)
    assert re.search(r"Installed: ppo, random(, sac)?\.", refused.stderr), refused.stderr
    assert "Did you mean 'random'?" in refused.stderr


class TriangularParameters(Schema):
    low = fields.Float(required=True)
    high = fields.Float(required=True)
    mode = fields.Float(required=True, validate=validate.Range(min=0))


class TriangularSampler:
    @hookimpl
    def dojo_register_samplers(self, registry: Registry) -> None:
        registry.register(
            "triangular",
            factory=f"{__name__}:TriangularParameters",  # never built by config validation
            schema=TriangularParameters,
            description="Triangular distribution.",
        )


class WinRateCriterion:
    @hookimpl
    def dojo_register_curricula(self, registry: Registry) -> None:
        registry.register("win_rate", factory=f"{__name__}:WinRateCriterion", description="Wins.")


def check_parameters(host: PluginHost, parameters: dict[str, Any]) -> Any:
    from dojo.config.loader import resolve_run_options

    raw = {"behaviors": {"CartPole": {}}, "environment_parameters": parameters}
    return resolve_run_options(raw, {}, host, "c.yaml").environment_parameters


def triangular(**parameters: Any) -> dict[str, Any]:
    return {"sampler_type": "triangular", "sampler_parameters": parameters}


def lessons(measure: str, value: Any = 1.0) -> dict[str, Any]:
    criteria = {"behavior": "CartPole", "measure": measure, "threshold": 0.5}
    return {
        "curriculum": [
            {"name": "easy", "value": value, "completion_criteria": criteria},
            {"name": "hard", "value": 2.0},
        ]
    }


def test_hook_register_samplers() -> None:
    host = load_plugins(extra_plugins=(("triangular", TriangularSampler()),))
    parameters = {"mass": triangular(low=1, high=3, mode=2)}
    assert check_parameters(host, parameters) == {
        "mass": {
            "sampler_type": "triangular",
            "sampler_parameters": {"low": 1, "high": 3, "mode": 2},
        }
    }
    with pytest.raises(ConfigError) as raised:
        check_parameters(
            host,
            {
                "mass": triangular(low=1, high=3, mode=-2),
                "length": lessons("reward", value=triangular(low=1)),
                "gravity": {"sampler_type": "triangle", "sampler_parameters": {}},
            },
        )
    message = str(raised.value)
    assert "c.yaml: environment_parameters.mass.sampler_parameters.mode: " in message
    prefix = "environment_parameters.length.curriculum.0.value.sampler_parameters"
    assert f"{prefix}.high" in message and f"{prefix}.mode" in message
    assert "environment_parameters.gravity.sampler_type: unknown sampler type 'triangle'" in message
    assert "Did you mean 'triangular'?" in message


def test_builtin_samplers_still_work_next_to_a_plugin_sampler() -> None:
    """A plugin's sampler adds to ML-Agents' own, it does not replace them."""
    host = load_plugins(extra_plugins=(("triangular", TriangularSampler()),))
    uniform = {"sampler_type": "uniform", "sampler_parameters": {"min_value": 1, "max_value": 2}}
    checked = check_parameters(host, {"mass": triangular(low=1, high=3, mode=2), "length": uniform})
    assert [checked[name]["sampler_type"] for name in ("mass", "length")] == [
        "triangular",
        "uniform",
    ]


def test_hook_register_curricula() -> None:
    host = load_plugins(extra_plugins=(("win_rate", WinRateCriterion()),))
    (easy, _hard) = check_parameters(host, {"length": lessons("win_rate")})["length"]["curriculum"]
    assert easy["completion_criteria"]["measure"] == "win_rate"
    with pytest.raises(ConfigError) as raised:
        check_parameters(host, {"length": lessons("win_rates")})
    message = str(raised.value)
    assert (
        "c.yaml: environment_parameters.length.curriculum.0.completion_criteria.measure: "
        "unknown completion criterion 'win_rates'. Installed: progress, reward, win_rate."
        in message
    )
    assert "Did you mean 'win_rate'?" in message


def test_builtin_measures_still_work_next_to_a_plugin_measure() -> None:
    """A plugin's measure adds to ML-Agents' own, it does not replace them."""
    host = load_plugins(extra_plugins=(("win_rate", WinRateCriterion()),))
    (easy, _hard) = check_parameters(host, {"length": lessons("reward")})["length"]["curriculum"]
    assert easy["completion_criteria"]["measure"] == "reward"


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def test_hook_add_cli_options(observed_run: ObservedRun) -> None:
    help_text = run_command(
        "mlagents-learn", "--help", site=observed_run.site, cwd=observed_run.folder
    ).stdout
    assert "--watch-label WATCH_LABEL" in help_text
    assert "label the watch plugin logs runs with" in help_text
    (started,) = observed_run.of("run_started")
    assert started["cli_options"] == {"watch_label": "nightly"}
    # Plugin options are not configuration: they are not mistaken for YAML overrides.
    assert "watch_label" not in (observed_run.run_dir / "configuration.yaml").read_text()


class GreetCommand:
    """Adds ``dojo greet NAME [--fail]``: prints a greeting; ``--fail`` raises a dojo error."""

    @hookimpl
    def dojo_add_commands(self, subparsers: Any) -> None:
        greet = subparsers.add_parser("greet", help="greet someone by name")
        greet.add_argument("name")
        greet.add_argument("--fail", action="store_true")
        greet.set_defaults(handler=self.greet)

    @staticmethod
    def greet(args: Any) -> int:
        if args.fail:
            raise ConfigError(f"cannot greet {args.name}")
        print(f"hello {args.name}")
        return 3 if args.name == "three" else 0


class TakenCommand:
    """Adds ``dojo plugins`` again: a name the core owns."""

    @hookimpl
    def dojo_add_commands(self, subparsers: Any) -> None:
        subparsers.add_parser("plugins", help="clash")


def test_hook_add_commands(capsys: pytest.CaptureFixture[str]) -> None:
    from dojo.cli.main import main

    host = load_plugins(extra_plugins=(("greet", GreetCommand()),), discover=False)
    with pytest.raises(SystemExit) as exited:
        main(["--help"], host=host)
    assert exited.value.code == 0
    assert re.search(r"greet\s+greet someone by name", capsys.readouterr().out)

    assert main(["greet", "ada"], host=host) == 0
    assert capsys.readouterr().out == "hello ada\n"
    assert main(["greet", "three"], host=host) == 3  # the handler's result is the exit status

    capsys.readouterr()
    assert main(["greet", "ada", "--fail"], host=host) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: cannot greet ada\n"  # one line, no traceback
    assert main(["--debug", "greet", "ada", "--fail"], host=host) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_command_name_already_taken_is_a_load_failure(capsys: pytest.CaptureFixture[str]) -> None:
    from dojo.cli.main import main

    host = load_plugins(
        extra_plugins=(("taken", TakenCommand()), ("greet", GreetCommand())), discover=False
    )
    assert main(["greet", "ada"], host=host) == 0  # the other plugins' commands still work
    captured = capsys.readouterr()
    assert "plugin taken: dojo_add_commands failed" in captured.err
    assert main(["plugins"], host=host) == 0
    assert "taken" in capsys.readouterr().out.split("Load failures:")[1]


# --------------------------------------------------------------------------------------------
# Run lifecycle
# --------------------------------------------------------------------------------------------


def test_hook_run_started(observed_run: ObservedRun) -> None:
    first, *_ = observed_run.events
    assert first["event"] == "run_started"
    assert first["run_id"] == "hooks"
    assert observed_run.folder / first["run_dir"] == observed_run.run_dir  # relative to cwd
    assert first["run_dir_exists"]
    assert first["behaviors"] == ["CartPole"]
    assert first["max_steps"] == 1000  # the resolved options, from the YAML file


def test_hook_checkpoint_saved(observed_run: ObservedRun) -> None:
    saved = observed_run.of("checkpoint_saved")
    periodic = [record for record in saved if not record["final"]]
    (final,) = [record for record in saved if record["final"]]
    assert saved[-1] is final
    assert len(periodic) == 2  # checkpoint_interval 500, max_steps 1000
    assert periodic[0]["step"] >= 500 and periodic[1]["step"] >= 1000
    behavior_dir = observed_run.run_dir / "CartPole"
    for record in saved:
        assert record["run_id"] == "hooks" and record["behavior_name"] == "CartPole"
        # The files exist when the plugin is told about them (it can upload or copy them).
        assert record["pt_exists"] and record["onnx_exists"], record
        pt = behavior_dir / f"CartPole-{record['step']}.pt"
        assert observed_run.path(record["pt_path"]) == pt
    for record in periodic:
        onnx = behavior_dir / f"CartPole-{record['step']}.onnx"
        assert observed_run.path(record["onnx_path"]) == onnx
    assert observed_run.path(final["onnx_path"]) == observed_run.run_dir / "CartPole.onnx"
    assert final["step"] == periodic[-1]["step"]  # the final model is the last checkpoint
    # The mean episode reward since the last summary: None when no episode ended since then.
    assert all(record["reward"] is None or record["reward"] > 0 for record in saved)
    status = json.loads((observed_run.run_dir / "run_logs" / "training_status.json").read_text())
    assert status["CartPole"]["final_checkpoint"]["steps"] == final["step"]


def test_hook_run_finished(observed_run: ObservedRun) -> None:
    *_, last = observed_run.events
    assert last == {
        "event": "run_finished",
        "run_id": "hooks",
        "reason": "completed",
        "configuration_written": True,
        "timers_written": True,
    }
    assert [record["event"] for record in observed_run.of("run_finished")] == ["run_finished"]
