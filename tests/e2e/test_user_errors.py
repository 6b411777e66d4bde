"""Mistakes a user makes: one clear message on stderr, a non-zero exit, no traceback and no
results folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import Completed, cartpole_config, learn, write_config


@dataclass(frozen=True)
class Mistake:
    """A configuration (``None``: no file written), extra flags, and what the message must say."""

    config: dict[str, Any] | str | None
    flags: tuple[str, ...]
    says: tuple[str, ...]


MALFORMED_YAML = """\
behaviors:
  CartPole:
    trainer_type: ppo
   max_steps: 10
"""

MISTAKES = {
    "unknown trainer type": Mistake(
        cartpole_config(trainer_type="ppp"),
        (),
        ("behaviors.CartPole.trainer_type", "'ppp'", "Installed: ppo", "Did you mean 'ppo'"),
    ),
    "trainer type dojo does not implement": Mistake(
        cartpole_config(trainer_type="poca"),
        (),
        ("behaviors.CartPole.trainer_type", "'poca'", "not implemented in dojo yet"),
    ),
    "reward signal dojo does not implement": Mistake(
        cartpole_config(reward_signals={"extrinsic": {}, "gail": {"demo_path": "x.demo"}}),
        (),
        ("behaviors.CartPole.reward_signals.gail", "'gail'", "not implemented in dojo yet"),
    ),
    "unknown key": Mistake(
        cartpole_config(hyperparameters={"batch_sizee": 256}),
        (),
        ("behaviors.CartPole.hyperparameters.batch_sizee", "unknown key", "'batch_size'"),
    ),
    "wrong type": Mistake(
        cartpole_config(hyperparameters={"batch_size": "big"}),
        (),
        ("behaviors.CartPole.hyperparameters.batch_size", "'big'"),
    ),
    "out of range": Mistake(
        cartpole_config(hyperparameters={"batch_size": 0}),
        (),
        ("behaviors.CartPole.hyperparameters.batch_size", "≥ 1", "got 0"),
    ),
    "unknown vectorization mode": Mistake(
        {**cartpole_config(), "env_settings": {"vectorization_mode": "subprocess"}},
        (),
        ("env_settings.vectorization_mode", "'subprocess'", "sync, async"),
    ),
    "malformed yaml": Mistake(MALFORMED_YAML, (), ("config.yaml", "line 4")),
    "missing config file": Mistake(None, (), ("config.yaml", "not found")),
    "unknown gymnasium id": Mistake(
        cartpole_config(),
        ("--env=gymnasium:CartPol-v1",),
        ("'CartPol-v1'", "did you mean 'CartPole-v1'"),
    ),
}


def _run_mistake(mistake: Mistake, cwd: Path, *extra: str) -> Completed:
    path = cwd / "config.yaml"
    if isinstance(mistake.config, str):
        path.write_text(mistake.config, encoding="utf-8")
    elif mistake.config is not None:
        write_config(path, mistake.config)
    args = [path.name, "--run-id=mistake", "--results-dir=results", *mistake.flags, *extra]
    return learn(args, cwd)


@pytest.mark.parametrize("mistake", list(MISTAKES.values()), ids=list(MISTAKES))
def test_mistake_gets_one_clear_message(mistake: Mistake, tmp_path: Path) -> None:
    completed = _run_mistake(mistake, tmp_path)

    assert completed.returncode != 0, completed.describe()
    assert "Traceback" not in completed.output, completed.describe()
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, completed.describe()
    assert completed.stderr.startswith("error: ")
    for words in mistake.says:
        assert words in completed.stderr, completed.describe()
    assert not (tmp_path / "results").exists(), "nothing is written for a refused run"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    completed = _run_mistake(MISTAKES["out of range"], tmp_path, "--debug")

    assert completed.returncode != 0
    assert "Traceback (most recent call last)" in completed.stderr
    assert "behaviors.CartPole.hyperparameters.batch_size" in completed.stderr
    assert not (tmp_path / "results").exists()
