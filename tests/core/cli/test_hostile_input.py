"""Hostile and mistaken input to ``mlagents-learn``, run in-process (``dojo.cli.learn.main``):
each case prints exactly one ``error:`` line on stderr, no traceback, returns 1, and leaves no
results folder (nor anything else in the working folder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dojo.cli.learn import main
from dojo.config.loader import load_run_options
from dojo.plugin_host import load_plugins

SMALL = {
    "behaviors": {
        "CartPole": {
            "trainer_type": "ppo",
            "hyperparameters": {"batch_size": 64, "buffer_size": 256},
            "network_settings": {"hidden_units": 32, "num_layers": 1},
            "max_steps": 500,
        }
    },
    "env_settings": {"env_path": "gymnasium:CartPole-v1"},
}


def _with(path: str, value: object) -> dict:
    """:data:`SMALL` with the dotted ``path`` set to ``value``."""
    data = yaml.safe_load(yaml.safe_dump(SMALL))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


@dataclass(frozen=True)
class Case:
    """A configuration (a dict, or YAML text), flags, and what the one error line must say."""

    config: dict | str
    flags: tuple[str, ...]
    says: tuple[str, ...]


#: A huge value (the benchmark uses 50 MB; 1 MB takes the same code path in a second).
HUGE = 1024 * 1024

CASES: dict[str, Case] = {
    # ---- the configuration file
    "duplicate top-level key": Case(
        "behaviors:\n  CartPole:\n    trainer_type: ppo\nbehaviors:\n  CartPole:\n"
        "    trainer_type: sac\n",
        (),
        ("the key 'behaviors' is given twice", "lines 1 and 4"),
    ),
    "duplicate nested key": Case(
        "behaviors:\n  CartPole:\n    trainer_type: ppo\n    hyperparameters:\n"
        "      batch_size: 64\n      buffer_size: 256\n      batch_size: 32\n",
        (),
        ("the key 'batch_size' is given twice", "lines 5 and 7"),
    ),
    "duplicate key in a flow mapping": Case(
        "behaviors: {CartPole: {trainer_type: ppo, trainer_type: sac}}\n",
        (),
        ("the key 'trainer_type' is given twice", "both on line 1"),
    ),
    "10,000 nested lists": Case(
        "behaviors: " + "[" * 10_000 + "]" * 10_000 + "\n",
        (),
        ("line 1", "nested deeper than 64 levels"),
    ),
    "integer of 5,000 digits": Case(
        "behaviors:\n  CartPole:\n    max_steps: 1" + "0" * 5000 + "\n",
        (),
        ("line 3", "is too long to read", "(5001 characters)"),
    ),
    "hidden_units 1e9": Case(
        _with("behaviors.CartPole.network_settings.hidden_units", "1e9"),
        (),
        ("network_settings.hidden_units", "2,000,000,000 parameters", "at most 100,000,000"),
    ),
    "hidden_units 20000, 3 layers": Case(
        _with("behaviors.CartPole.network_settings", {"hidden_units": 20000, "num_layers": 3}),
        (),
        ("behaviors.CartPole.network_settings.hidden_units", "800,"),
    ),
    "memory_size 1e6": Case(
        _with(
            "behaviors.CartPole.network_settings.memory",
            {"memory_size": 1_000_000, "sequence_length": 16},
        ),
        (),
        ("memory_size 1000000", "at most 100,000,000"),
    ),
    "curiosity encoding_size 1e9": Case(
        _with(
            "behaviors.CartPole.reward_signals",
            {"extrinsic": {}, "curiosity": {"encoding_size": 10**9}},
        ),
        (),
        ("reward_signals.curiosity.encoding_size", "at most 100,000,000"),
    ),
    "max_steps 1e300": Case(
        _with("behaviors.CartPole.max_steps", 1e300),
        (),
        ("behaviors.CartPole.max_steps", "within ±9223372036854775807"),
    ),
    "PPO buffer_size below batch_size": Case(
        _with("behaviors.CartPole.hyperparameters.buffer_size", 32),
        (),
        ("hyperparameters.buffer_size: must be at least batch_size (64), got 32",),
    ),
    "SAC buffer_size below batch_size": Case(
        _with(
            "behaviors.CartPole",
            {"trainer_type": "sac", "hyperparameters": {"batch_size": 128, "buffer_size": 100}},
        ),
        (),
        ("hyperparameters.buffer_size: must be at least batch_size (128), got 100",),
    ),
    "1 MB trainer_type": Case(
        _with("behaviors.CartPole.trainer_type", "p" * HUGE),
        (),
        ("unknown trainer type", f"({HUGE} characters)"),
    ),
    "1 MB env_path": Case(
        _with("env_settings.env_path", "x" * HUGE),
        (),
        ("env_settings.env_path", f"({HUGE + 2} characters)"),
    ),
    "num_threads 1e12": Case(
        {**SMALL, "torch_settings": {"num_threads": 10**12}},
        (),
        ("torch_settings.num_threads", "≤ 4096"),
    ),
    # ---- the command line
    "unknown flag": Case(SMALL, ("--bogus",), ("unrecognized arguments: --bogus",)),
    "flag without its value": Case(
        SMALL, ("--run-id",), ("argument --run-id: expected one argument",)
    ),
    "bad int": Case(SMALL, ("--num-envs", "many"), ("--num-envs: invalid int value: 'many'",)),
    "removed flag": Case(SMALL, ("--curriculum", "c.yaml"), ("environment_parameters",)),
    "--seed 2**70": Case(
        SMALL, (f"--seed={2**70}",), ("env_settings.seed", str(2**70), "command line")
    ),
    "--seed 2**31": Case(SMALL, (f"--seed={2**31}",), ("env_settings.seed", "≤ 2147483647")),
    "--seed -5": Case(SMALL, ("--seed=-5",), ("env_settings.seed", "≥ -1", "got -5")),
    "seed + copies past int32": Case(
        SMALL, (f"--seed={2**31 - 2}", "--num-envs=4"), ("seed + i", "at most 2147483644")
    ),
    "--time-scale nan": Case(SMALL, ("--time-scale=nan",), ("expected a finite number",)),
    "--env remote:": Case(SMALL, ("--env=remote:",), ("nothing follows 'remote:'",)),
    "--env gymnasium:": Case(
        SMALL, ("--env=gymnasium:",), ("nothing follows 'gymnasium:'", "CartPole-v1")
    ),
    # ---- run ids
    "--run-id ..": Case(SMALL, ("--run-id=..",), ("run_id", "the current or the parent")),
    "--run-id .": Case(SMALL, ("--run-id=.",), ("run_id", "the current or the parent")),
    "--run-id a/b": Case(SMALL, ("--run-id=a/b",), ("run_id", "holds a '/'")),
    "--run-id a\\b": Case(SMALL, ("--run-id=a\\b",), ("run_id", "holds a '\\\\'")),
    "--run-id with a newline": Case(
        SMALL, ("--run-id=a\nb",), ("run_id", "control character '\\n'")
    ),
    "--run-id empty": Case(SMALL, ("--run-id=",), ("run_id", "is empty")),
    "--run-id of 129 characters": Case(
        SMALL, ("--run-id=" + "r" * 129,), ("run_id", "129 characters long")
    ),
    "--run-id with a leading space": Case(
        SMALL, ("--run-id= run",), ("run_id", "starts or ends with a space")
    ),
    "run_id with a NUL byte in the YAML": Case(
        _with("checkpoint_settings.run_id", "a\0b"),
        (),
        ("checkpoint_settings.run_id", "control character '\\x00'"),
    ),
    "run_id ../escape in the YAML": Case(
        _with("checkpoint_settings.run_id", "../escape"), (), ("run_id", "holds a '/'")
    ),
    "1 MB run_id in the YAML": Case(
        _with("checkpoint_settings.run_id", "a" * HUGE),
        (),
        ("run_id", f"({HUGE + 2} characters)", f"is {HUGE} characters long"),
    ),
    "--initialize-from ..": Case(
        SMALL, ("--initialize-from=..",), ("initialize_from", "the current or the parent")
    ),
}


def _write(tmp_path: Path, config: dict | str) -> Path:
    path = tmp_path / "config.yaml"
    text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def learn_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> Callable[..., tuple[int, str, str]]:
    """``mlagents-learn ARGS`` in-process, in ``tmp_path/work`` with ``--results-dir=results``;
    returns the exit code, stdout and stderr."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    def learn(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--results-dir=results"])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return learn


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_error_line_and_writes_nothing(
    name: str, learn_in: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    case = CASES[name]
    config = _write(tmp_path, case.config)
    before = sorted(tmp_path.rglob("*"))

    code, out, err = learn_in(str(config), *case.flags)

    assert code == 1, err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert err.startswith("error: ")
    assert "Traceback" not in out + err
    assert len(err) < 2000, "a value is echoed in full"
    for text in case.says:
        assert text in err, err
    assert sorted(tmp_path.rglob("*")) == before, "a file or folder was created"


def test_help_still_exits_with_0(learn_in: Callable[..., tuple[int, str, str]]) -> None:
    with pytest.raises(SystemExit) as caught:
        learn_in("--help")
    assert caught.value.code == 0


def test_keep_checkpoints_zero_is_accepted_as_keep_all(tmp_path: Path) -> None:
    config = _write(tmp_path, _with("behaviors.CartPole.keep_checkpoints", 0))
    options = load_run_options(config, {}, load_plugins())
    assert options.behaviors["CartPole"].keep_checkpoints == 0


def test_ppo_buffer_beyond_max_steps_warns_that_nothing_would_be_learned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _write(tmp_path, _with("behaviors.CartPole.hyperparameters.buffer_size", "1e12"))
    options = load_run_options(config, {}, load_plugins())
    assert options.behaviors["CartPole"].hyperparameters.buffer_size == 10**12
    assert (
        "behaviors.CartPole.hyperparameters.buffer_size (1000000000000) is more than max_steps "
        "(500): PPO updates the policy each time buffer_size new steps are collected, so this "
        "run would end without a single update." in caplog.text
    )
