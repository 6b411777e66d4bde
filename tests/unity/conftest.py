"""Shared helpers of the Unity protocol tests: free ports, player scripts, the proto compiler."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

PROTOS = Path(__file__).parents[2] / "plugins" / "unity" / "protos"


def small_default_config(max_steps: int) -> str:
    """A tiny PPO configuration for any behavior (``default_settings`` only): tests of how a
    run starts and stops must not depend on what the player calls its behavior."""
    return f"""
default_settings:
  trainer_type: ppo
  hyperparameters: {{batch_size: 32, buffer_size: 64, num_epoch: 1}}
  network_settings: {{hidden_units: 16, num_layers: 1}}
  max_steps: {max_steps}
  time_horizon: 16
  summary_freq: 100
"""


def free_port(count: int = 1) -> int:
    """A port ``p`` such that ``p .. p + count - 1`` are free on loopback right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count >= 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


def port_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1 (the Editor's 5004 may be taken)."""
    with socket.socket() as probe:
        # As the trainer's gRPC server binds: connections of an earlier test left in TIME_WAIT
        # do not make the port busy, only a live listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def player_script(folder: Path, body: str, name: str = "player") -> Path:
    """An executable script usable as ``--env``: ``body`` runs with the test's interpreter and
    receives the trainer's arguments (``--mlagents-port``, ``-logFile``, ...) in ``sys.argv``."""
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return path


def serve_script(
    folder: Path,
    env: str = "gymnasium:CartPole-v1",
    prelude: str = "",
    serve_args: tuple[str, ...] = (),
) -> Path:
    """A player script running ``python -m dojo_unity.serve env *serve_args`` (writes its pid
    next to it)."""
    return player_script(
        folder,
        "import os, sys\n"
        "port = sys.argv[sys.argv.index('--mlagents-port') + 1]\n"
        f"open(os.path.join({str(folder)!r}, 'pid-' + port), 'w').write(str(os.getpid()))\n"
        f"{prelude}\n"
        "from dojo_unity.serve import main\n"
        f"sys.exit(main([{env!r}, *{list(serve_args)!r}, *sys.argv[1:]]))",
    )


@pytest.fixture
def port() -> int:
    return free_port(4)
