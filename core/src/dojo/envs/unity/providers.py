"""The Unity environment providers: a build (``--env path``), the Editor (no ``--env``) and
remote environments (``--env remote:HOST[:PORT]``), each a :class:`UnityEnvironment` of
:class:`~dojo.envs.unity.worker.UnityWorker` connections listening on the loopback interface
unless told otherwise. Registered by :mod:`dojo.builtin.environments`.
"""

from __future__ import annotations

from pathlib import Path

from dojo.config.settings import EngineSettings, EnvSettings
from dojo.envs.unity.environment import RestartPolicy, UnityEnvironment
from dojo.envs.unity.launcher import ExecutableLauncher
from dojo.envs.unity.worker import EDITOR_PORT, UnityWorker
from dojo.errors import EnvError


def make_unity_environment(
    target: str,
    *,
    num_envs: int,
    seed: int,
    settings: EnvSettings,
    engine_settings: EngineSettings | None = None,
    log_dir: Path | None = None,
) -> UnityEnvironment:
    """A Unity build (``--env path``), or the Editor when ``target`` is empty (no ``--env``).

    Worker ``i`` listens on ``--base-port + i`` (the Editor on 5004) on the loopback interface.

    Raises:
        EnvError: ``--num-envs`` > 1 with the Editor, no executable at ``target``, a port in use,
            a player that does not connect within ``--timeout-wait``, or an incompatible API.
    """
    engine = engine_settings or EngineSettings()
    policy = RestartPolicy.from_settings(settings)
    if not target:
        if num_envs != 1:
            raise EnvError(
                f"--num-envs {num_envs} needs --env: the Unity Editor is a single environment"
            )

        def editor(worker_id: int) -> UnityWorker:
            return UnityWorker(
                worker_id, EDITOR_PORT, "127.0.0.1", None, settings.timeout_wait, seed,
                settings.num_areas,
            )  # fmt: skip

        return UnityEnvironment(
            editor,
            1,
            engine,
            None,
            waiting_message=(
                f"Listening on port {EDITOR_PORT}. Start training by pressing the Play button in "
                "the Unity Editor."
            ),
        )
    launcher = ExecutableLauncher(target, settings.env_args, engine.no_graphics, log_dir)

    def player(worker_id: int) -> UnityWorker:
        return UnityWorker(
            worker_id, settings.base_port + worker_id, "127.0.0.1", launcher,
            settings.timeout_wait, seed, settings.num_areas,
        )  # fmt: skip

    return UnityEnvironment(player, num_envs, engine, policy)


def parse_remote_target(target: str, default_port: int) -> tuple[str, int]:
    """``remote:`` targets: ``HOST``, ``HOST:PORT``, ``:PORT`` or ``PORT`` -> (bind host, port).

    Raises:
        EnvError: a port that is not a number in 1..65535.
    """
    if target.isdigit():
        host, port_text = "", target
    elif ":" in target:
        host, _, port_text = target.rpartition(":")
    else:
        host, port_text = target, ""
    host = host or "127.0.0.1"
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise EnvError(f"--env remote:{target}: {port_text!r} is not a port number")
    return host, int(port_text)


def make_remote_environment(
    target: str,
    *,
    num_envs: int,
    seed: int,
    settings: EnvSettings,
    engine_settings: EngineSettings | None = None,
    log_dir: Path | None = None,
) -> UnityEnvironment:
    """``--env remote:HOST[:PORT]`` or ``remote::PORT``: listen for ``--num-envs`` environments
    started elsewhere.

    Worker ``i`` listens on ``HOST`` (default 127.0.0.1; ``0.0.0.0`` for other machines) at
    ``PORT + i`` (default ``--base-port``). Each environment connects by itself, for example
    ``python -m dojo.envs.serve gymnasium:CartPole-v1 --host trainer --port 5005``. A worker that
    disconnects is "restarted" by waiting ``--timeout-wait`` seconds for a new connection.
    """
    del log_dir
    host, base_port = parse_remote_target(target, settings.base_port)

    def remote(worker_id: int) -> UnityWorker:
        return UnityWorker(
            worker_id, base_port + worker_id, host, None, settings.timeout_wait, seed,
            settings.num_areas,
        )  # fmt: skip

    ports = f"{base_port}" if num_envs == 1 else f"{base_port}-{base_port + num_envs - 1}"
    return UnityEnvironment(
        remote,
        num_envs,
        engine_settings or EngineSettings(),
        RestartPolicy.from_settings(settings),
        waiting_message=f"Listening on {host}:{ports} for remote environments to connect.",
    )
