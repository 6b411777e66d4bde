"""ONNX export: ML-Agents names and constants, and the same actions as the torch policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from dojo.envs.base import BehaviorSpec
from dojo.torch_layer.action_model import continuous_env_action
from dojo.torch_layer.networks import Actor
from dojo.torch_layer.onnx_export import export_actor

from .helpers import NETWORK_SETTINGS, SPECS, random_masks


def _actor(spec: BehaviorSpec) -> Actor:
    torch.manual_seed(0)
    actor = Actor(spec.observation_specs, spec.action_spec, NETWORK_SETTINGS)
    with torch.no_grad():
        # Push the weights away from their tiny initial values so actions differ visibly.
        for parameter in actor.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    return actor


def _random_inputs(
    spec: BehaviorSpec, n: int, seed: int, shift: float = 0.0
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    generator = torch.Generator().manual_seed(seed)
    obs = [
        torch.randn((n, *s.shape), generator=generator) * 2.0 + shift
        for s in spec.observation_specs
    ]
    masks = None
    if spec.action_spec.discrete_branches:
        masks = random_masks(spec.action_spec.discrete_branches, n, generator)
    return obs, masks


def _feed(obs: list[torch.Tensor], masks: torch.Tensor | None) -> dict[str, np.ndarray]:
    feed = {f"obs_{i}": o.numpy() for i, o in enumerate(obs)}
    if masks is not None:
        feed["action_masks"] = masks.numpy()
    return feed


def _run(path: Path, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


def _assert_matches_torch(
    actor: Actor, path: Path, spec: BehaviorSpec, seed: int, shift: float = 0.0
) -> None:
    for n in (1, 7, 32):
        obs, masks = _random_inputs(spec, n, seed + n, shift)
        outputs = _run(path, _feed(obs, masks))
        expected = actor.act(obs, masks, deterministic=True)
        if spec.action_spec.continuous_size:
            np.testing.assert_allclose(
                outputs["deterministic_continuous_actions"],
                continuous_env_action(expected.continuous).numpy(),
                atol=1e-5,
                rtol=1e-5,
            )
            sampled = outputs["continuous_actions"]
            assert sampled.shape == (n, spec.action_spec.continuous_size)
            assert np.all(np.abs(sampled) <= 1.0)
        if spec.action_spec.discrete_branches:
            deterministic = outputs["deterministic_discrete_actions"]
            np.testing.assert_array_equal(deterministic, expected.discrete.numpy())
            offsets = np.cumsum((0, *spec.action_spec.discrete_branches[:-1]))
            for actions in (deterministic, outputs["discrete_actions"]):
                assert actions.shape == (n, spec.action_spec.discrete_size)
                assert actions.dtype == np.int64
                assert np.all(np.take_along_axis(masks.numpy(), actions + offsets, axis=1) == 1.0)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_export_has_ml_agents_interface(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    path = export_actor(_actor(spec), spec, tmp_path / "Behavior.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert 9 <= model.opset_import[0].version <= 15

    expected_inputs = [f"obs_{i}" for i in range(len(spec.observation_specs))]
    expected_outputs = ["version_number", "memory_size"]
    if spec.action_spec.continuous_size:
        expected_outputs += [
            "continuous_actions",
            "continuous_action_output_shape",
            "deterministic_continuous_actions",
        ]
    if spec.action_spec.discrete_branches:
        expected_inputs.append("action_masks")
        expected_outputs += [
            "discrete_actions",
            "discrete_action_output_shape",
            "deterministic_discrete_actions",
        ]
    assert [i.name for i in model.graph.input] == expected_inputs
    assert [o.name for o in model.graph.output] == expected_outputs
    for graph_input in model.graph.input:
        assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"

    obs, masks = _random_inputs(spec, 3, seed=1)
    outputs = _run(path, _feed(obs, masks))
    assert outputs["version_number"].tolist() == [3.0]
    assert outputs["memory_size"].tolist() == [0.0]
    if spec.action_spec.continuous_size:
        assert outputs["continuous_action_output_shape"].tolist() == [
            spec.action_spec.continuous_size
        ]
    if spec.action_spec.discrete_branches:
        assert outputs["discrete_action_output_shape"].tolist() == [
            list(spec.action_spec.discrete_branches)
        ]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_exported_actions_equal_torch_policy(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    actor = _actor(spec)
    path = export_actor(actor, spec, tmp_path / "Behavior.onnx")
    _assert_matches_torch(actor, path, spec, seed=10)


@pytest.mark.parametrize("name", ["continuous", "hybrid"])
def test_normalizer_is_baked_into_the_export(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    actor = _actor(spec)
    shifted, _ = _random_inputs(spec, 500, seed=5, shift=20.0)
    actor.update_normalization(shifted)
    path = export_actor(actor, spec, tmp_path / "Behavior.onnx")
    _assert_matches_torch(actor, path, spec, seed=20, shift=20.0)


def test_export_is_atomic_and_overwrites(tmp_path: Path) -> None:
    spec = SPECS["continuous"]
    target = tmp_path / "run" / "Behavior-100.onnx"
    export_actor(_actor(spec), spec, target)
    first = target.read_bytes()
    actor = _actor(spec)
    actor.update_normalization(_random_inputs(spec, 50, seed=3, shift=4.0)[0])
    export_actor(actor, spec, target)
    assert target.read_bytes() != first
    assert [p.name for p in target.parent.iterdir()] == ["Behavior-100.onnx"]


def test_failed_export_leaves_nothing_behind(tmp_path: Path) -> None:
    spec = SPECS["continuous"]
    with pytest.raises(ValueError, match="built for"):
        export_actor(_actor(spec), SPECS["hybrid"], tmp_path / "Behavior.onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_does_not_change_the_actor(tmp_path: Path) -> None:
    spec = SPECS["hybrid"]
    actor = _actor(spec)
    actor.train()
    before = {k: v.clone() for k, v in actor.state_dict().items()}
    export_actor(actor, spec, tmp_path / "Behavior.onnx")
    assert actor.training
    after = actor.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_export_leaves_the_global_random_stream_alone(name: str, tmp_path: Path) -> None:
    """Tracing samples actions once; a checkpoint must not move the training's random stream
    (it did: a run's later shuffles and samples then depended on when checkpoints fell)."""
    spec = SPECS[name]
    actor = _actor(spec)
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    export_actor(actor, spec, tmp_path / "Behavior.onnx")
    torch.testing.assert_close(torch.rand(4), expected, rtol=0, atol=0)
