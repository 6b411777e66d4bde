"""dojo's server against a client built only from the .proto files (compiled here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dojo.api import Aggregation
from dojo.config.settings import EnvSettings
from dojo.envs.base import ActionTuple
from dojo.envs.context import EnvironmentContext
from dojo_unity.providers import make_remote_environment

from .conftest import PROTOS

CLIENT = Path(__file__).with_name("proto_only_client.py")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python code for the client, generated from plugins/unity/protos with grpcio-tools."""
    grpc_tools = pytest.importorskip("grpc_tools.protoc")
    out = tmp_path_factory.mktemp("generated")
    protos = sorted(str(p) for p in (PROTOS / "communicator_objects").glob("*.proto"))
    code = grpc_tools.main(
        ["protoc", f"-I{PROTOS}", f"--python_out={out}", f"--grpc_python_out={out}", *protos]
    )
    assert code == 0
    (out / "communicator_objects" / "__init__.py").write_text("")
    return out


def test_proto_only_client_handshake_reset_100_steps_stats_and_close(
    generated: Path, port: int
) -> None:
    client = subprocess.Popen(
        [sys.executable, str(CLIENT), str(generated), str(port), "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        settings = EnvSettings(base_port=port, timeout_wait=30)
        env = make_remote_environment(
            EnvironmentContext(str(port), num_envs=1, seed=3, settings=settings)
        )
        env.reset()
        spec = env.behavior_specs["Seeker"]
        assert [o.shape for o in spec.observation_specs] == [(3,), (1, 6, 8)]
        assert spec.action_spec.continuous_size == 1
        assert spec.action_spec.discrete_branches == (3,)
        stats = []
        for step in range(100):
            decision, terminal = env.get_steps("Seeker")
            assert len(terminal) == 0
            assert decision.agent_id.tolist() == [0, 1]
            vector, image = decision.obs
            np.testing.assert_array_equal(vector, [[step, 0, 0.5], [step, 1, 0.5]])
            for agent in (0, 1):
                expected = ((10 * step + agent) % 256) / 255.0
                np.testing.assert_allclose(image[agent], expected, atol=1e-6)
            assert decision.action_mask.tolist() == [[False, False, False], [False, True, False]]
            assert decision.reward.tolist() == ([0.0, 0.0] if step == 0 else [1.0, 1.0])
            env.set_actions(
                "Seeker",
                ActionTuple(
                    np.array([[step], [step + 0.5]], dtype=np.float32),
                    np.array([[1], [2]], dtype=np.int64),
                ),
            )
            env.step()
            stats += env.take_stats()
        assert [(s.key, s.value, s.aggregation) for s in stats] == [
            ("Custom/Coins", 7.5, Aggregation.SUM)
        ]
        env.close()
        output, _ = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0, output
    assert "100 steps, closed with 400" in output
