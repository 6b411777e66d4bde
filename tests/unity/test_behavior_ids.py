"""Unity behavior ids (``Name?team=N``): parsed as ML-Agents parses them, and every name a user
sees is the behavior name, over real sockets with a player that names behaviors as builds do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionSpec, BehaviorSpec, DecisionSteps, ObservationSpec, TerminalSteps
from dojo.envs.behavior_ids import parse_behavior_id, qualified_behavior_id
from dojo.envs.context import EnvironmentContext
from dojo.errors import EnvError
from dojo_unity.client import (
    EnvironmentClient,
    EpisodeIds,
    ServedEnvironment,
    agent_infos,
    brain_parameters,
    sensor_names,
)
from dojo_unity.providers import make_remote_environment

from .conftest import free_port, serve_script

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")

REACH = """
  {name}:
    trainer_type: ppo
    hyperparameters: {{batch_size: 64, buffer_size: 256, num_epoch: 2, learning_rate: 1.0e-3}}
    network_settings: {{hidden_units: 16, num_layers: 1}}
    max_steps: 600
    time_horizon: 32
    summary_freq: 200
    checkpoint_interval: 300
"""


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    ("qualified", "name", "team", "query"),
    [
        ("3DBall?team=0", "3DBall", 0, {"team": "0"}),
        ("Soccer?team=1", "Soccer", 1, {"team": "1"}),
        ("Reach1D", "Reach1D", 0, {}),
        ("Walker?team=2&foo=bar", "Walker", 2, {"team": "2", "foo": "bar"}),
        ("Odd?Name?team=3", "Odd?Name", 3, {"team": "3"}),  # split at the last '?'
        ("NoTeam?foo=bar", "NoTeam", 0, {"foo": "bar"}),
    ],
)
def test_behavior_ids_parse_as_mlagents_parses_them(
    qualified: str, name: str, team: int, query: dict[str, str]
) -> None:
    parsed = parse_behavior_id(qualified)
    assert (parsed.qualified, parsed.name, parsed.team_id, dict(parsed.query)) == (
        qualified,
        name,
        team,
        query,
    )


@pytest.mark.parametrize("qualified", ["Ball?team", "Ball?team=x", "?team=0", "Ball?=1"])
def test_malformed_behavior_ids_are_clear_errors(qualified: str) -> None:
    with pytest.raises(EnvError, match="behavior id"):
        parse_behavior_id(qualified)


def test_qualified_id_round_trips() -> None:
    assert qualified_behavior_id("Reach1D", 1) == "Reach1D?team=1"
    assert parse_behavior_id(qualified_behavior_id("Reach1D", 1)).team_id == 1


# ------------------------------------------------------------------ the player's messages
def test_player_fills_messages_as_a_unity_build_does() -> None:
    spec = BehaviorSpec((ObservationSpec((2,)), ObservationSpec((1, 4, 4))), ActionSpec(1, (3,)))
    brain = brain_parameters("Reach1D?team=0", spec)
    assert brain.brain_name == "Reach1D?team=0" and brain.is_training
    assert brain.action_spec.num_continuous_actions == 1
    assert list(brain.action_spec.discrete_branch_sizes) == [3]
    # A build that knows the trainer supports hybrid actions fills no deprecated fields.
    assert not brain.vector_action_size_deprecated

    names = sensor_names(spec)
    ids = EpisodeIds()
    obs = [np.zeros((2, 2), np.float32), np.zeros((2, 1, 4, 4), np.float32)]
    decision = DecisionSteps(obs, np.zeros(2, np.float32), np.array([0, 1]), None)
    no_terminal = TerminalSteps(
        [o[:0] for o in obs], np.zeros(0, np.float32), np.zeros(0, bool), np.zeros(0, np.int64)
    )
    first = agent_infos(decision, no_terminal, "Reach1D?team=0", ids, names)
    assert [i.id for i in first] == [1, 2]
    vector, image = first[0].observations
    assert list(vector.dimension_properties) == [1]  # NONE
    assert list(image.dimension_properties) == [1, 2, 2]  # NONE, translational equivariance x2
    assert (vector.name, image.name) == ("VectorSensor_size2", "")  # as sensors name themselves
    again = agent_infos(decision, no_terminal, "Reach1D?team=0", ids, names)
    assert [i.id for i in again] == [1, 2]  # same episodes, same ids
    # Agent 0's episode ends and it starts another in the same step: a build sends the
    # finished episode under its id and the new one under a new id.
    terminal = TerminalSteps(
        [o[:1] for o in obs], np.ones(1, np.float32), np.zeros(1, bool), np.array([0])
    )
    after = agent_infos(decision, terminal, "Reach1D?team=0", ids, names)
    assert [(i.id, i.done) for i in after] == [(1, True), (3, False), (2, False)]


def test_player_handshake_is_an_academys() -> None:
    client = EnvironmentClient([ServedEnvironment(lambda seed: pytest.fail("not built"))])
    handshake = client._handshake()
    assert handshake.header.status == 200
    init = handshake.unity_output.rl_initialization_output
    assert init.name == "AcademySingleton"
    assert init.package_version == "3.0.0"
    assert init.communication_version == "1.5.0"
    capabilities = init.capabilities
    assert [field.name for field, value in capabilities.ListFields() if value is True] == [
        "baseRLCapabilities",
        "concatenatedPngObservations",
        "compressedChannelMapping",
        "hybridActions",
        "trainingAnalytics",
        "variableLengthObservation",
        "multiAgentGroups",
    ]
    assert len(capabilities.DESCRIPTOR.fields) == 7


def test_two_environments_on_one_team_with_one_behavior_name_are_refused() -> None:
    from dojo.envs.gymnasium_env import make_gymnasium_environment

    def make(seed: int):  # type: ignore[no-untyped-def]
        return make_gymnasium_environment(
            EnvironmentContext("dojo/Reach1D-v0", num_envs=1, seed=seed)
        )

    client = EnvironmentClient([ServedEnvironment(make), ServedEnvironment(make)])
    client.envs = [make(0), make(0)]
    for env in client.envs:
        env.reset()
    with pytest.raises(EnvError, match="two environments serve behavior 'Reach1D\\?team=0'"):
        client._update_routes()


# ------------------------------------------------------------------ the environment
def test_environment_names_behaviors_without_team_and_merges_teams(tmp_path: Path) -> None:
    port = free_port()
    player = subprocess.Popen(
        [
            sys.executable, "-m", "dojo_unity.serve", "gymnasium:dojo/Reach1D-v0",
            "--with", "gymnasium:dojo/Reach1D-v0?team=1", "--port", str(port),
            "--copies", "2", "--connect-timeout", "30",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        settings = EnvSettings(base_port=port, timeout_wait=30)
        env = make_remote_environment(
            EnvironmentContext(str(port), num_envs=1, seed=0, settings=settings)
        )
        try:
            env.reset()
            assert list(env.behavior_specs) == ["Reach1D"]
            assert env.behavior_ids("Reach1D") == ("Reach1D?team=0", "Reach1D?team=1")
            seen: set[int] = set()
            for _ in range(25):  # episodes last 10 steps
                decision, _ = env.get_steps("Reach1D")
                assert len(decision) == 4  # two copies on each team
                assert len(set(decision.agent_id.tolist())) == 4
                seen.update(decision.agent_id.tolist())
                spec = env.behavior_specs["Reach1D"].action_spec
                env.set_actions("Reach1D", spec.empty(len(decision)))
                env.step()
            # Every episode came under new ids, as a build sends them: 4 agents, 3 episodes.
            assert len(seen) == 12
        finally:
            env.close()
        output, _ = player.communicate(timeout=30)
        assert player.returncode == 0, output
    finally:
        if player.poll() is None:
            player.kill()
            player.wait()


# ------------------------------------------------------------------ mlagents-learn
def learn(
    tmp_path: Path, config: str, *served: str, run_id: str = "reach"
) -> subprocess.CompletedProcess[str]:
    port = free_port()
    (tmp_path / "config.yaml").write_text("behaviors:" + config)
    also = tuple(arg for uri in served[1:] for arg in ("--with", uri))
    player = serve_script(tmp_path, served[0], serve_args=also)
    return subprocess.run(
        [
            MLAGENTS_LEARN, str(tmp_path / "config.yaml"), "--env", str(player),
            "--base-port", str(port), "--run-id", run_id, "--seed", "0",
            "--results-dir", str(tmp_path / "results"), "--timeout-wait", "30",
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip


def assert_results_named(run_dir: Path, behaviors: list[str], output: str) -> None:
    for name in behaviors:
        assert (run_dir / name).is_dir(), sorted(p.name for p in run_dir.iterdir())
        assert (run_dir / f"{name}.onnx").is_file()
        assert list((run_dir / name).glob("events.out.tfevents.*"))
        assert list((run_dir / name).glob(f"{name}-*.onnx"))
        assert f"[INFO] {name}. Step: 600." in output, output
    status = json.loads((run_dir / "run_logs" / "training_status.json").read_text())
    assert sorted(k for k in status if k != "metadata") == sorted(behaviors)
    assert not [p for p in run_dir.rglob("*") if "?" in p.name or "team" in p.name]
    assert "?team=" not in output, output


def test_mlagents_learn_trains_a_player_sending_qualified_names(tmp_path: Path) -> None:
    result = learn(tmp_path, REACH.format(name="Reach1D"), "gymnasium:dojo/Reach1D-v0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_results_named(tmp_path / "results" / "reach", ["Reach1D"], result.stdout)


def test_a_build_with_two_behaviors_and_one_on_team_1(tmp_path: Path) -> None:
    config = REACH.format(name="Reach1D") + REACH.format(name="CartPole")
    result = learn(tmp_path, config, "gymnasium:dojo/Reach1D-v0?team=1", "gymnasium:CartPole-v1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_results_named(tmp_path / "results" / "reach", ["CartPole", "Reach1D"], result.stdout)


def test_two_teams_of_one_behavior_share_one_trainer_with_a_warning(tmp_path: Path) -> None:
    result = learn(
        tmp_path,
        REACH.format(name="Reach1D"),
        "gymnasium:dojo/Reach1D-v0",
        "gymnasium:dojo/Reach1D-v0?team=1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "doesn't support adversarial games" in result.stderr + result.stdout
    assert "Enable self-play" in result.stderr + result.stdout
    assert_results_named(tmp_path / "results" / "reach", ["Reach1D"], result.stdout)


def test_config_section_named_with_the_team_suffix_gets_a_hint(tmp_path: Path) -> None:
    result = learn(tmp_path, REACH.format(name="'Reach1D?team=0'"), "gymnasium:dojo/Reach1D-v0")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "behaviors.Reach1D?team=0:" in errors[0]
    assert "rename the section to 'Reach1D:'" in errors[0]
    assert not (tmp_path / "results" / "reach").exists()


def test_team_suffixed_section_is_refused_even_with_default_settings(tmp_path: Path) -> None:
    config = REACH.format(name="'Reach1D?team=0'") + "default_settings: {trainer_type: ppo}\n"
    result = learn(tmp_path, config, "gymnasium:dojo/Reach1D-v0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rename the section to 'Reach1D:'" in result.stderr, result.stderr


# ------------------------------------------------------------------ real Unity data
DEMO = Path("/work/shared/data/mlagents-demos/3DBall.demo")


def demo_records(path: Path) -> tuple[str, list[tuple[int, bool]]]:
    """The brain name and the (agent id, done) of every recorded step of a Unity .demo file
    (layout: reference §7; the reader stops after number_steps records)."""
    from google.protobuf.internal.decoder import _DecodeVarint32

    from dojo_unity.communicator_objects.agent_info_action_pair_pb2 import (
        AgentInfoActionPairProto,
    )
    from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
    from dojo_unity.communicator_objects.demonstration_meta_pb2 import (
        DemonstrationMetaProto,
    )

    data = path.read_bytes()

    def record(position: int, message):  # type: ignore[no-untyped-def]
        size, position = _DecodeVarint32(data, position)
        message.ParseFromString(data[position : position + size])
        return message, position + size

    meta, _ = record(0, DemonstrationMetaProto())
    brain, position = record(33, BrainParametersProto())
    steps = []
    for _ in range(meta.number_steps):
        pair, position = record(position, AgentInfoActionPairProto())
        steps.append((pair.agent_info.id, pair.agent_info.done))
    return brain.brain_name, steps


def test_a_real_unity_recording_names_and_numbers_agents_as_the_player_does() -> None:
    """3DBall.demo, recorded by Unity: the behavior is '3DBall?team=0', and an agent id whose
    episode ended never comes back (every episode has a new id), as the player sends them."""
    brain_name, steps = demo_records(DEMO)
    parsed = parse_behavior_id(brain_name)
    assert (parsed.name, parsed.team_id) == ("3DBall", 0)
    ended: set[int] = set()
    for agent_id, done in steps:
        assert agent_id not in ended, f"id {agent_id} came back after its episode ended"
        if done:
            ended.add(agent_id)
    assert len(ended) >= 20  # the file's 22 episodes, the last one unfinished
