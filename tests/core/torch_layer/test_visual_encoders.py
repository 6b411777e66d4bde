"""Visual observations: the five ``vis_encode_type`` encoders, their minimum sizes, mixed vector +
image observations, and ONNX export of an actor that sees images."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from dojo.envs.base import ActionSpec, BehaviorSpec, ObservationSpec
from dojo.errors import ConfigError
from dojo.torch_layer import networks
from dojo.torch_layer.action_model import continuous_env_action
from dojo.torch_layer.encoders import ObservationEncoder
from dojo.torch_layer.networks import Actor
from dojo.torch_layer.onnx_export import export_actor
from dojo.torch_layer.visual_encoders import MIN_RESOLUTION, VISUAL_ENCODERS

from .helpers import NETWORK_SETTINGS, random_masks

ENCODERS = sorted(VISUAL_ENCODERS)


def test_ml_agents_minimum_sizes():
    assert MIN_RESOLUTION == {
        "simple": 20,
        "nature_cnn": 36,
        "resnet": 15,
        "match3": 5,
        "fully_connected": 1,
    }


@pytest.mark.parametrize("name", ENCODERS)
def test_smallest_legal_image_is_encoded(name: str):
    size = MIN_RESOLUTION[name]
    spec = ObservationSpec((3, size, size), name="camera")
    encoder = ObservationEncoder((spec,), normalize=False, vis_encode_type=name, hidden_units=24)
    assert encoder.output_size == 24
    features = encoder([torch.rand(5, 3, size, size)])
    assert features.shape == (5, 24)
    assert torch.isfinite(features).all()
    features.sum().backward()  # gradients reach the first layer
    first = next(encoder.visual_encoders[0].parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0


@pytest.mark.parametrize("name", [n for n in ENCODERS if MIN_RESOLUTION[n] > 1])
@pytest.mark.parametrize("axis", ["height", "width"])
def test_one_pixel_less_is_a_config_error(name: str, axis: str):
    size = MIN_RESOLUTION[name]
    shape = (3, size - 1, size) if axis == "height" else (3, size, size - 1)
    specs = (ObservationSpec((4,)), ObservationSpec(shape, name="camera"))
    with pytest.raises(ConfigError) as info:
        ObservationEncoder(specs, normalize=False, vis_encode_type=name)
    message = str(info.value)
    assert "observation 1 ('camera')" in message
    assert str(shape) in message
    assert f"vis_encode_type {name!r}" in message
    assert f"{size}x{size} minimum" in message
    # The fix names encoders that would accept the image, and only those.
    fits = message.rpartition(":")[2]
    for other, minimum in MIN_RESOLUTION.items():
        assert (other in fits) == (minimum <= size - 1)


def test_empty_image_has_no_encoder():
    with pytest.raises(ConfigError, match="at least one pixel"):
        ObservationEncoder(
            (ObservationSpec((1, 0, 3)),), normalize=False, vis_encode_type="fully_connected"
        )


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"'cnn'.*simple, nature_cnn, resnet, match3"):
        ObservationEncoder((ObservationSpec((3, 40, 40)),), False, vis_encode_type="cnn")


def test_vector_and_images_are_combined():
    specs = (
        ObservationSpec((3, 20, 20), name="front"),
        ObservationSpec((4,), name="speed"),
        ObservationSpec((1, 24, 32), name="depth"),
        ObservationSpec((2,), name="goal"),
    )
    encoder = ObservationEncoder(specs, normalize=True, vis_encode_type="simple", hidden_units=16)
    assert encoder.vector_indices == (1, 3) and encoder.visual_indices == (0, 2)
    assert encoder.output_size == 4 + 2 + 2 * 16
    obs = [torch.rand(7, *spec.shape) for spec in specs]
    features = encoder(obs)
    assert features.shape == (7, encoder.output_size)
    # The vector block comes first: the two vectors, normalised (identity before any update).
    torch.testing.assert_close(features[:, :6], torch.cat([obs[1], obs[3]], dim=1))
    # Each image has its own encoder, in observation order.
    torch.testing.assert_close(features[:, 6:22], encoder.visual_encoders[0](obs[0]))
    torch.testing.assert_close(features[:, 22:], encoder.visual_encoders[1](obs[2]))


def test_normalization_applies_to_vectors_only():
    specs = (ObservationSpec((3, 5, 5)), ObservationSpec((2,)))
    encoder = ObservationEncoder(specs, normalize=True, vis_encode_type="match3", hidden_units=8)
    assert encoder.normalizer is not None and encoder.normalizer.size == 2
    obs = [torch.rand(300, 3, 5, 5) * 100.0, torch.randn(300, 2) * 3.0 + 10.0]
    images_before = encoder.visual_encoders[0](obs[0])
    encoder.update_normalization(obs)
    features = encoder(obs)
    assert torch.allclose(features[:, :2].mean(dim=0), torch.zeros(2), atol=1e-4)
    torch.testing.assert_close(features[:, 2:], images_before)


def test_images_alone_have_no_normalizer():
    encoder = ObservationEncoder((ObservationSpec((3, 20, 20)),), normalize=True)
    assert encoder.normalizer is None
    encoder.update_normalization([torch.rand(2, 3, 20, 20)])  # a no-op, not an error


def test_vector_only_checkpoint_keys_are_unchanged():
    encoder = ObservationEncoder((ObservationSpec((3,)), ObservationSpec((2,))), normalize=True)
    assert sorted(encoder.state_dict()) == ["normalizer.count", "normalizer.mean", "normalizer.var"]


# -- ONNX export -----------------------------------------------------------------------------

IMAGE_SPEC = BehaviorSpec(
    (ObservationSpec((5,), name="vector"), ObservationSpec((3, 0, 0), name="camera")),
    ActionSpec(continuous_size=2, discrete_branches=(3, 2)),
)


def _spec_for(name: str) -> BehaviorSpec:
    # Non-square, one pixel above the minimum in height: catches swapped height/width.
    size = MIN_RESOLUTION[name]
    vector, _ = IMAGE_SPEC.observation_specs
    camera = ObservationSpec((3, size + 1, size + 3), name="camera")
    return dataclasses.replace(IMAGE_SPEC, observation_specs=(vector, camera))


def _image_actor(spec: BehaviorSpec, name: str, monkeypatch: pytest.MonkeyPatch) -> Actor:
    torch.manual_seed(0)
    settings = dataclasses.replace(NETWORK_SETTINGS, vis_encode_type=name)
    # The actor's encoder as networks.py builds it from network_settings (vis_encode_type and
    # hidden_units), whichever keywords networks.py itself passes.
    monkeypatch.setattr(
        networks,
        "ObservationEncoder",
        functools.partial(
            ObservationEncoder, vis_encode_type=name, hidden_units=settings.hidden_units
        ),
    )
    actor = Actor(spec.observation_specs, spec.action_spec, settings)
    assert actor.encoder.output_size == 5 + settings.hidden_units
    with torch.no_grad():
        for parameter in actor.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    actor.update_normalization([torch.randn(50, 5) * 2.0 + 3.0, torch.rand(50, 3, 1, 1)])
    return actor


@pytest.mark.parametrize("name", ENCODERS)
def test_actor_with_image_exports_to_onnx(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    spec = _spec_for(name)
    actor = _image_actor(spec, name, monkeypatch)
    path = export_actor(actor, spec, tmp_path / "Behavior.onnx")

    model = onnx.load(path)
    assert model.opset_import[0].version == 9
    assert [i.name for i in model.graph.input] == ["obs_0", "obs_1", "action_masks"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[1].type.tensor_type.shape.dim]
    assert dims == ["batch", *spec.observation_specs[1].shape]  # [batch, C, H, W]

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    generator = torch.Generator().manual_seed(3)
    for n in (1, 6):
        obs = [torch.randn(n, 5, generator=generator) * 2.0 + 3.0]
        obs.append(torch.rand((n, *spec.observation_specs[1].shape), generator=generator))
        masks = random_masks(spec.action_spec.discrete_branches, n, generator)
        feed = {"obs_0": obs[0].numpy(), "obs_1": obs[1].numpy(), "action_masks": masks.numpy()}
        outputs = dict(zip(names, session.run(None, feed), strict=True))
        expected = actor.act(obs, masks, deterministic=True)
        np.testing.assert_allclose(
            outputs["deterministic_continuous_actions"],
            continuous_env_action(expected.continuous).numpy(),
            atol=1e-5,
            rtol=1e-5,
        )
        np.testing.assert_array_equal(
            outputs["deterministic_discrete_actions"], expected.discrete.numpy()
        )
        assert outputs["continuous_actions"].shape == (n, 2)
        assert outputs["discrete_actions"].shape == (n, 2)
