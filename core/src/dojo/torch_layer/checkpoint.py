"""Saving and loading torch state (``checkpoint.pt``, ``<Behavior>-<step>.pt``).

A checkpoint is a dict of state dicts and plain values (ML-Agents' keys: ``Policy``,
``global_step``, ``Optimizer:...``, ``Module:...``). Writes are atomic: the data goes to a
temporary file in the destination folder, is flushed to disk, then renamed over the destination,
so an interrupted save never leaves a truncated checkpoint. Loading uses
``torch.load(weights_only=True)``: a checkpoint cannot execute code.

Trainers restore checkpoints non-strictly, as ML-Agents does, so that ``--initialize-from`` and
``--resume`` still work after the network settings changed (``hidden_units`` 64 -> 32):
:class:`CheckpointLoader` loads every tensor whose name and shape fit, leaves the others at
their fresh initial values, restores an optimizer only when all the parameters it steps were
loaded (its moments belong to the old parameters otherwise: it starts fresh), and logs one
warning that names every part that did not fit.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dojo.artifacts.atomic import atomic_write
from dojo.errors import DivergedError, RunError

logger = logging.getLogger("dojo")

#: What an optimizer's ``load_state_dict`` raises when the saved state belongs to other
#: parameters (another count or other shapes).
_OPTIMIZER_MISFIT = (KeyError, IndexError, RuntimeError, TypeError, ValueError)


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, state dicts, numbers, strings) to ``path``; its
    folder is created if missing. Returns the path.

    Raises:
        DivergedError: ``state`` holds a NaN or infinite value; nothing is written, so the
            checkpoints saved before stay the latest ones.
    """
    path = Path(path)
    where = non_finite_entry(state)
    if where is not None:
        raise DivergedError(
            f"training diverged: {where} holds NaN or infinite values, so {path.name} is not "
            "written and the last good checkpoints are kept. Look for non-finite observations "
            "or rewards, or lower the learning rate."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, binary=True) as file:
        torch.save(state, file)
    return path


def non_finite_entry(state: Any, prefix: str = "") -> str | None:
    """The dotted key of the first floating-point tensor or number in ``state`` (nested dicts
    and lists) that is NaN or infinite, or ``None``."""
    if isinstance(state, torch.Tensor):
        finite = not state.is_floating_point() or bool(torch.isfinite(state).all())
        return None if finite else prefix or "the state"
    if isinstance(state, float):
        return None if math.isfinite(state) else prefix or "the state"
    if isinstance(state, dict):
        items = ((f"{prefix}.{key}" if prefix else str(key), value) for key, value in state.items())
    elif isinstance(state, (list, tuple)):
        items = ((f"{prefix}.{i}" if prefix else str(i), value) for i, value in enumerate(state))
    else:
        return None
    for key, value in items:
        found = non_finite_entry(value, key)
        if found is not None:
            return found
    return None


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_state` (onto the CPU).

    Raises:
        RunError: the file does not exist, or is not a readable checkpoint (truncated, corrupt,
            or containing objects other than tensors and plain values).
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch.load reports corruption as RuntimeError, UnpicklingError, EOFError, ... alike,
        # some with several lines of advice to load with weights_only=False: that would run
        # whatever code the file holds, so the message names the file and nothing more.
        raise RunError(
            f"checkpoint {path} cannot be read: it is not a dojo checkpoint, or it is damaged "
            f"(truncated or corrupt; {type(err).__name__}). Use another checkpoint, or start "
            "a new run id."
        ) from err
    if not isinstance(state, dict):
        raise RunError(
            f"checkpoint {path} holds a {type(state).__name__}, not a dict of saved states"
        )
    return state


# --------------------------------------------------------------------------------------------
# Non-strict loading
# --------------------------------------------------------------------------------------------


def _shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


@dataclass(frozen=True)
class ModuleFit:
    """What :func:`load_matching` could not load into a module (state-dict keys).

    Attributes:
        resized: ``(key, network shape, checkpoint shape)`` of tensors whose shapes differ;
            they keep their current values.
        missing: keys of the module absent from the checkpoint; they keep their current values.
        unexpected: keys of the checkpoint the module does not have; ignored.
        parameters_loaded: every parameter of the module was loaded (buffers aside).
    """

    resized: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    parameters_loaded: bool = True

    def describe(self) -> list[str]:
        """One line per kind of misfit, for a warning."""
        lines = []
        if self.resized:
            sizes = ", ".join(
                f"{key} {_shape(network)} (checkpoint {_shape(saved)})"
                for key, network, saved in self.resized
            )
            lines.append(f"sizes differ, initialised anew: {sizes}")
        if self.missing:
            lines.append(f"not in the checkpoint, initialised anew: {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"not in the network, ignored: {', '.join(self.unexpected)}")
        return lines


def load_matching(module: nn.Module, state: Mapping[str, Any]) -> ModuleFit:
    """Load into ``module`` every tensor of ``state`` (a state dict) whose key and shape fit;
    the module's other tensors keep their current values (in place, so views such as
    :mod:`dojo.torch_layer.flat_parameters` stay valid).

    ``torch``'s ``load_state_dict(strict=False)`` skips missing and unexpected keys but still
    raises on a size mismatch; here a pre-hook on every submodule drops those entries first.
    It runs after the submodule's own pre-hooks, so a hook that converts an older layout of
    its keys (SAC's Q networks) is honoured.
    """
    resized: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []

    def drop_resized(submodule: nn.Module, state_dict: dict, prefix: str, *_args: Any) -> None:
        own = [
            *submodule.named_parameters(recurse=False),
            *submodule.named_buffers(recurse=False),
        ]
        for name, current in own:
            saved = state_dict.get(prefix + name)
            if isinstance(saved, torch.Tensor) and saved.shape != current.shape:
                del state_dict[prefix + name]
                resized.append((prefix + name, tuple(current.shape), tuple(saved.shape)))

    handles = [sub.register_load_state_dict_pre_hook(drop_resized) for sub in module.modules()]
    try:
        result = module.load_state_dict(dict(state), strict=False)
    finally:
        for handle in handles:
            handle.remove()
    resized_keys = {key for key, _, _ in resized}
    missing = tuple(key for key in result.missing_keys if key not in resized_keys)
    not_loaded = resized_keys | set(missing)
    parameters = {name for name, _ in module.named_parameters(remove_duplicate=False)}
    return ModuleFit(
        resized=tuple(resized),
        missing=missing,
        unexpected=tuple(result.unexpected_keys),
        parameters_loaded=not (parameters & not_loaded),
    )


class CheckpointLoader:
    """Restores a trainer's state from a checkpoint non-strictly, as ML-Agents does.

    Typical use, in :meth:`dojo.api.Trainer.load_checkpoint`::

        checkpoint = CheckpointLoader.read(path)
        actor_loaded = checkpoint.module("Policy", self.actor)
        critic_loaded = checkpoint.module("Optimizer:critic", self.critic)
        checkpoint.note(self.load_reward_signal_state(checkpoint.state))
        if not reset_step:
            fits = actor_loaded and critic_loaded
            checkpoint.optimizer("Optimizer:value_optimizer", self.optimizer, fits)
            self.step = checkpoint.step()
        checkpoint.warn(self.behavior_name)

    A reward signal restores its own entry (``Module:<Signal>``) the same way, with
    ``CheckpointLoader(state, "Module:<Signal>")``, and returns :attr:`misfits`.

    Args:
        state: the saved states (a checkpoint, or one entry of it).
        source: where ``state`` comes from, for messages (the file).
    """

    def __init__(self, state: Mapping[str, Any], source: str | os.PathLike[str]) -> None:
        self.state = state
        self.source = source
        #: Descriptions of the parts that did not fit, ``"<entry>: <what>"``.
        self.misfits: list[str] = []

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> CheckpointLoader:
        """The loader of the checkpoint file ``path`` (read with :func:`load_state`).

        Raises:
            RunError: the file is missing or not a readable checkpoint.
        """
        return cls(load_state(path), Path(path))

    def module(self, key: str, module: nn.Module) -> bool:
        """Load entry ``key`` into ``module`` with :func:`load_matching`; returns whether every
        parameter of the module was loaded."""
        saved = self.state.get(key)
        if not isinstance(saved, Mapping):
            self.misfits.append(f"{key}: not in the checkpoint, initialised anew")
            return False
        fit = load_matching(module, saved)
        self.note(f"{key}: {line}" for line in fit.describe())
        return fit.parameters_loaded

    def tensor(self, key: str, tensor: torch.Tensor) -> bool:
        """Copy entry ``key`` into ``tensor`` (in place) if its shape fits; returns whether it
        did."""
        saved = self.state.get(key)
        if not isinstance(saved, torch.Tensor):
            self.misfits.append(f"{key}: not in the checkpoint, initialised anew")
            return False
        if saved.shape != tensor.shape:
            self.misfits.append(
                f"{key}: sizes differ, initialised anew: {_shape(tensor.shape)} "
                f"(checkpoint {_shape(saved.shape)})"
            )
            return False
        with torch.no_grad():
            tensor.copy_(saved)
        return True

    def optimizer(self, key: str, optimizer: Any, parameters_loaded: bool) -> bool:
        """Restore ``optimizer`` (anything with ``load_state_dict``) from entry ``key`` when
        the parameters it steps were all loaded (``parameters_loaded``) and its saved state
        fits them; otherwise it is left as constructed, starting fresh. Returns whether it was
        restored."""
        saved = self.state.get(key)
        if saved is None:
            self.misfits.append(f"{key}: not in the checkpoint, starts fresh")
            return False
        if not parameters_loaded:
            self.misfits.append(f"{key}: starts fresh, as not all its parameters were loaded")
            return False
        try:
            optimizer.load_state_dict(saved)
        except _OPTIMIZER_MISFIT as err:
            self.misfits.append(f"{key}: starts fresh, its state does not fit ({err})")
            return False
        return True

    def step(self) -> int:
        """The saved ``global_step``."""
        if "global_step" not in self.state:
            raise RunError(f"checkpoint {self.source} has no global_step: not a dojo checkpoint")
        return int(self.state["global_step"])

    def note(self, misfits: Iterable[str]) -> None:
        """Add descriptions of parts that did not fit (e.g. a reward signal's)."""
        self.misfits.extend(misfits)

    def warn(self, behavior_name: str) -> None:
        """Log one warning naming every part that did not fit (nothing when all did)."""
        if self.misfits:
            logger.warning(
                "Checkpoint %s does not fully fit the networks of %s (were the network "
                "settings changed?). What fits was loaded; the rest:\n  %s",
                self.source,
                behavior_name,
                "\n  ".join(self.misfits),
            )
