"""The Unity environment providers: a build (``--env path``), the Editor (no ``--env``) and
remote environments (``--env remote:HOST[:PORT]``), each a :class:`UnityEnvironment` of
:class:`~dojo_unity.worker.UnityWorker` connections listening on the loopback interface
unless told otherwise. Registered by :mod:`dojo_unity.plugin`; each is called with the run's
:class:`~dojo.envs.context.EnvironmentContext`.
"""

from __future__ import annotations

from dojo.envs.context import EnvironmentContext
from dojo.errors import EnvError
from dojo_unity.environment import RestartPolicy, UnityEnvironment
from dojo_unity.launcher import ExecutableLauncher
from dojo_unity.worker import EDITOR_PORT, UnityWorker


def make_unity_environment(context: EnvironmentContext) -> UnityEnvironment:
    """A Unity build (``--env path``), or the Editor when ``context.target`` is empty (no
    ``--env``).

    Worker ``i`` listens on ``--base-port + i`` (the Editor on 5004) on the loopback interface.
    Players are configured with ``context.engine_settings`` and write their logs to
    ``context.log_dir`` (``Player-<i>.log``).

    Raises:
        EnvError: ``--num-envs`` > 1 with the Editor, no executable at ``target``, a port in use,
            a player that does not connect within ``--timeout-wait``, or an incompatible API.
    """
    target, num_envs, seed = context.target, context.num_envs, context.seed
    settings, engine = context.settings, context.engine_settings
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
    launcher = ExecutableLauncher(target, settings.env_args, engine.no_graphics, context.log_dir)

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


def make_remote_environment(context: EnvironmentContext) -> UnityEnvironment:
    """``--env remote:HOST[:PORT]`` or ``remote::PORT``: listen for ``--num-envs`` environments
    started elsewhere (they write their logs where they run: ``context.log_dir`` is unused).

    Worker ``i`` listens on ``HOST`` (default 127.0.0.1; ``0.0.0.0`` for other machines) at
    ``PORT + i`` (default ``--base-port``). Each environment connects by itself, for example
    ``python -m dojo_unity.serve gymnasium:CartPole-v1 --host trainer --port 5005``. A worker that
    disconnects is "restarted" by waiting ``--timeout-wait`` seconds for a new connection.
    """
    num_envs, seed, settings = context.num_envs, context.seed, context.settings
    host, base_port = parse_remote_target(context.target, settings.base_port)

    def remote(worker_id: int) -> UnityWorker:
        return UnityWorker(
            worker_id, base_port + worker_id, host, None, settings.timeout_wait, seed,
            settings.num_areas,
        )  # fmt: skip

    ports = f"{base_port}" if num_envs == 1 else f"{base_port}-{base_port + num_envs - 1}"
    return UnityEnvironment(
        remote,
        num_envs,
        context.engine_settings,
        RestartPolicy.from_settings(settings),
        waiting_message=f"Listening on {host}:{ports} for remote environments to connect.",
    )
