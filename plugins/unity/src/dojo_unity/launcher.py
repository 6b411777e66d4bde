"""Finding and starting a Unity executable (``--env path/to/Build``) for one worker.

The player is started as ``<executable> --mlagents-port <port>`` followed by
``-nographics -batchmode`` under ``--no-graphics``, ``-logFile <run_logs>/Player-<worker>.log``
and then ``--env-args``, exactly as ``mlagents-learn`` starts it. Any program that accepts those
arguments and speaks the protocol works, for example a script running :mod:`dojo_unity.serve`.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from dojo.errors import EnvError


def find_executable(path: str) -> Path:
    """The file to run for ``--env path``: ``path`` itself or with a platform's build suffix.

    As in ML-Agents, a relative ``path`` is relative to the current folder (``--env 3DBall``
    finds ``./3DBall.x86_64``). The result is absolute, so that starting it never searches
    ``PATH`` for a program of the same name.

    Raises:
        EnvError: no candidate exists or is executable.
    """
    base = Path(path).expanduser()
    candidates = [
        base,
        base.with_name(base.name + ".x86_64"),
        base.with_name(base.name + ".x86"),
        base.with_name(base.name + ".app") / "Contents" / "MacOS" / base.name,
        base.with_name(base.name + ".exe"),
    ]
    if base.suffix == ".app":  # --env 3DBall.app: the bundle's own executable
        candidates.append(base / "Contents" / "MacOS" / base.stem)
    for candidate in candidates:
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise EnvError(
                    f"--env {path!r}: {candidate} is not executable (chmod +x {candidate})"
                )
            return candidate.absolute()
    tried = ", ".join(str(c) for c in candidates)
    raise EnvError(
        f"--env {path!r}: no Unity executable found (tried {tried}). "
        "Give the path of a build made with the ML-Agents package, a registered scheme such as "
        "gymnasium:CartPole-v1, or no --env to connect to the Unity Editor."
    )


class ExecutableLauncher:
    """Starts one process of a Unity build per worker.

    Args:
        path: ``--env`` as given.
        env_args: ``--env-args``, appended to the command line.
        no_graphics: add ``-nographics -batchmode``.
        log_dir: the run's ``run_logs`` folder for ``-logFile``; ``None`` to let the player choose.
    """

    def __init__(
        self,
        path: str,
        env_args: list[str] | None = None,
        no_graphics: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        self.executable = find_executable(path)
        self.env_args = list(env_args or [])
        self.no_graphics = no_graphics
        self.log_dir = log_dir

    def command(self, worker_id: int, port: int) -> list[str]:
        """The command line of worker ``worker_id``."""
        args = [str(self.executable), "--mlagents-port", str(port)]
        if self.no_graphics:
            args += ["-nographics", "-batchmode"]
        if self.log_dir is not None:
            args += ["-logFile", str(self.log_dir / f"Player-{worker_id}.log")]
        return args + self.env_args

    def launch(self, worker_id: int, port: int) -> subprocess.Popen[bytes]:
        """Start worker ``worker_id``'s process (in its own session: Ctrl+C goes to the trainer,
        which then closes the players itself).

        Raises:
            EnvError: the process could not be started.
        """
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        command = self.command(worker_id, port)
        try:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as err:
            raise EnvError(f"--env: cannot start {command[0]}: {err}") from err


def exit_reason(process: subprocess.Popen[bytes]) -> str | None:
    """Why ``process`` cannot answer any more (it exited), or ``None`` while it runs."""
    code = process.poll()
    if code is None:
        return None
    if code < 0:
        return f"the environment process {process.pid} was killed by {signal.Signals(-code).name}"
    return f"the environment process {process.pid} exited with code {code}"


#: Seconds a player that was not sent the protocol's close gets to exit after SIGTERM.
TERMINATE_GRACE_S = 3.0


def stop_process(process: subprocess.Popen[bytes], timeout: float, closed: bool = True) -> None:
    """Stop ``process``, killing it if it does not exit in time.

    Args:
        process: the player.
        timeout: seconds to wait for it to exit by itself (``--timeout-wait``).
        closed: it was sent the protocol's close (status 400), so it exits by itself. When it
            was not (it never connected, or it was not waiting for an answer) nothing tells it
            to exit: it is sent SIGTERM and gets at most :data:`TERMINATE_GRACE_S` seconds.
    """
    if not closed and process.poll() is None:
        process.terminate()
        timeout = min(timeout, TERMINATE_GRACE_S)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
