"""ONNX export of an :class:`~dojo.torch_layer.networks.Actor` with ML-Agents 1.x tensor names,
so a model trained by dojo runs in Unity (Sentis / Barracuda) unchanged.

Graph interface (ML-Agents ``model_serialization.py``, model API version 3):

- inputs ``obs_0`` ... ``obs_{N-1}`` ``[batch, *shape]`` float32, ``action_masks``
  ``[batch, sum(branches)]`` float32 (1 = allowed) when there are discrete branches, and
  ``recurrent_in`` ``[batch, 1, memory_size]`` (the agents' memories) when the actor has an
  LSTM (``network_settings.memory``);
- outputs ``version_number`` (= [3]), ``memory_size`` (= [memory_size], 0 without LSTM), then,
  if there are continuous
  actions, ``continuous_actions`` (sampled, ``clip(-3, 3) / 3``, or ``tanh`` of the sample for
  a ``tanh_squash`` actor, as ML-Agents' SAC exports),
  ``continuous_action_output_shape`` (= [continuous_size]), ``deterministic_continuous_actions``,
  and, if there are branches, ``discrete_actions`` (sampled indices ``[batch, branches]``),
  ``discrete_action_output_shape`` (= [[branch sizes]]), ``deterministic_discrete_actions``,
  and last, with an LSTM, ``recurrent_out`` ``[batch, 1, memory_size]``: the memories to feed
  back as ``recurrent_in`` at the agents' next step (zeros at an episode's first step).

The constant outputs are float32 with ML-Agents' exact shapes. The observation normaliser is part
of the actor, so its statistics are baked into the graph.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from dojo.artifacts.atomic import atomic_write_bytes
from dojo.envs.base import BehaviorSpec
from dojo.torch_layer.action_model import continuous_env_action, sample_discrete
from dojo.torch_layer.networks import Actor

if TYPE_CHECKING:
    import onnx

# ModelApiVersion.MLAgents2_0: the version Unity's ML-Agents 2.x+/Sentis loader expects.
MODEL_API_VERSION = 3
# The lowest opset with every op the actor uses; ML-Agents exports opset 9 too, and Unity Sentis
# imports opsets 7 to 15.
ONNX_OPSET = 9


class _ExportedActor(nn.Module):
    """The actor wrapped with ML-Agents' output tuple (only used while exporting)."""

    def __init__(self, actor: Actor, behavior_spec: BehaviorSpec) -> None:
        super().__init__()
        self.actor = actor
        self.n_obs = len(behavior_spec.observation_specs)
        action_spec = behavior_spec.action_spec
        self.has_continuous = action_spec.continuous_size > 0
        self.has_discrete = action_spec.discrete_size > 0
        self.recurrent = actor.memory_size > 0
        # Buffers rather than Python constants: they become graph initializers returned as
        # outputs, exactly like ML-Agents' non-trainable parameters.
        self.register_buffer("version_number", torch.tensor([float(MODEL_API_VERSION)]))
        self.register_buffer("memory_size", torch.tensor([float(actor.memory_size)]))
        self.register_buffer("continuous_shape", torch.tensor([float(action_spec.continuous_size)]))
        # ML-Agents stores the branch sizes as a [1, branches] tensor.
        self.register_buffer(
            "discrete_shape", torch.tensor([[float(b) for b in action_spec.discrete_branches]])
        )

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        obs_list = list(inputs[: self.n_obs])
        masks = inputs[self.n_obs] if self.has_discrete else None
        # recurrent_in [batch, 1, memory_size] -> [batch, memory_size]
        memories = inputs[-1][:, 0] if self.recurrent else None
        hidden, memories = self.actor.hidden_and_memories(obs_list, memories)
        dist = self.actor.action_model.distribution(hidden, masks)
        outputs = [self.version_number, self.memory_size]
        if self.has_continuous:
            sampled = dist.mean + torch.randn_like(dist.mean) * torch.exp(dist.log_std)
            to_env = torch.tanh if self.actor.action_model.tanh_squash else continuous_env_action
            outputs += [to_env(sampled), self.continuous_shape, to_env(dist.mean)]
        if self.has_discrete:
            outputs += [
                sample_discrete(dist.discrete_log_probs),
                self.discrete_shape,
                torch.argmax(dist.discrete_log_probs, dim=2),
            ]
        if memories is not None:
            outputs.append(memories.unsqueeze(1))
        return tuple(outputs)


def onnx_names(behavior_spec: BehaviorSpec, memory_size: int = 0) -> tuple[list[str], list[str]]:
    """The ML-Agents input and output names of a model for ``behavior_spec`` (with an LSTM of
    ``memory_size`` floats, if not 0), in graph order."""
    inputs = [f"obs_{i}" for i in range(len(behavior_spec.observation_specs))]
    outputs = ["version_number", "memory_size"]
    if behavior_spec.action_spec.continuous_size > 0:
        outputs += [
            "continuous_actions",
            "continuous_action_output_shape",
            "deterministic_continuous_actions",
        ]
    if behavior_spec.action_spec.discrete_size > 0:
        inputs.append("action_masks")
        outputs += [
            "discrete_actions",
            "discrete_action_output_shape",
            "deterministic_discrete_actions",
        ]
    if memory_size:
        inputs.append("recurrent_in")
        outputs.append("recurrent_out")
    return inputs, outputs


def _check_matches(actor: Actor, behavior_spec: BehaviorSpec) -> None:
    shapes = [tuple(spec.shape) for spec in behavior_spec.observation_specs]
    actor_shapes = [tuple(spec.shape) for spec in actor.observation_specs]
    if shapes != actor_shapes or behavior_spec.action_spec != actor.action_spec:
        raise ValueError(
            f"the actor was built for observations {actor_shapes} and {actor.action_spec}, "
            f"not for observations {shapes} and {behavior_spec.action_spec}"
        )


def _set_branch_axis(model: onnx.ModelProto, n_branches: int) -> None:
    """Declare the discrete outputs' second axis as the fixed branch count (the exporter's
    shape inference leaves it symbolic)."""
    for output in model.graph.output:
        if output.name in ("discrete_actions", "deterministic_discrete_actions"):
            output.type.tensor_type.shape.dim[1].dim_value = n_branches


def export_actor(actor: Actor, behavior_spec: BehaviorSpec, path: str | os.PathLike[str]) -> Path:
    """Write ``actor`` as an ML-Agents-compatible ONNX model to ``path`` and return the path.

    The model is exported and checked with ``onnx.checker`` in memory, then written with
    :func:`~dojo.artifacts.atomic.atomic_write_bytes`: a reader never sees a partial model.

    Args:
        actor: the policy to export (its current weights and normaliser statistics).
        behavior_spec: the behavior it was built for (names the inputs and outputs).
        path: destination ``.onnx`` file; its folder is created if missing.

    Raises:
        ValueError: the actor was built for another behavior spec.
    """
    import onnx  # heavy import, only needed here

    _check_matches(actor, behavior_spec)
    input_names, output_names = onnx_names(behavior_spec, actor.memory_size)
    batch_outputs = [
        name for name in output_names if name.endswith("_actions") or name == "recurrent_out"
    ]
    dynamic_axes = {name: {0: "batch"} for name in input_names + batch_outputs}

    # Batch 2 rather than 1 so that tracing cannot mistake the batch axis for a broadcast one.
    dummy: list[torch.Tensor] = [
        torch.zeros((2, *spec.shape)) for spec in behavior_spec.observation_specs
    ]
    if behavior_spec.action_spec.discrete_size > 0:
        dummy.append(torch.ones(2, sum(behavior_spec.action_spec.discrete_branches)))
    if actor.memory_size:
        dummy.append(torch.zeros(2, 1, actor.memory_size))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _ExportedActor(actor, behavior_spec)
    exported = io.BytesIO()
    # Tracing runs the actor once, sampling actions from torch's global generator: fork it, so
    # that writing a checkpoint leaves the training's random stream as it was (a run otherwise
    # depends on when its checkpoints fall, and moving them moves every later shuffle and
    # action sample).
    cuda_devices = sorted({p.device.index or 0 for p in actor.parameters() if p.is_cuda})
    with (
        torch.random.fork_rng(devices=cuda_devices),
        warnings.catch_warnings(),
        torch.no_grad(),
    ):
        # The TorchScript-based exporter is deprecated in favour of dynamo=True, which emits
        # opset 18+ graphs (newer than Unity Sentis imports): its deprecation notices are
        # expected. Other warnings still show.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        # The LSTM's initial state comes from recurrent_in, so the batch axis stays dynamic:
        # the exporter's warning about fixed-batch LSTM exports does not apply.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        # nn.LSTM's input checks compare sizes in Python while tracing: constant here.
        warnings.filterwarnings(
            "ignore", category=torch.jit.TracerWarning, module="torch.nn.modules.rnn"
        )
        torch.onnx.export(
            wrapper,
            tuple(dummy),
            exported,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    model = onnx.load_from_string(exported.getvalue())
    _set_branch_axis(model, behavior_spec.action_spec.discrete_size)
    onnx.checker.check_model(model, full_check=True)
    # Checked in memory, then written atomically: a reader never sees a partial model.
    atomic_write_bytes(path, model.SerializeToString())
    return path
