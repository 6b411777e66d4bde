"""``threaded: true`` for PPO's fused path: the update's gradient steps in a child process.

With ``threaded: true`` the environment keeps stepping while the trainer updates. In one
process the two halves take turns on Python's GIL: the environment loop needs it for every
step and the update for each of its many small numpy operations, and every hand-over costs a
wake-up, so a threaded PPO CartPole run was slower than an unthreaded one (9.5 against 6.9 s).
Here the update thread hands each update's :class:`~dojo_ppo.fused_loss.Epochs` to a child
process and waits without the GIL; the child runs :func:`~dojo_ppo.fused_loss.run_epochs` on
the same parameters and Adam moments, which live in shared memory
(:func:`~dojo.torch_layer.flat_parameters.flatten_parameters` with ``shared=True``). Every Adam
step holds the trainer's ``policy_lock`` (a process-shared lock), so ``act`` in the parent never
reads half-written parameters, exactly as with a thread. Checkpoints, ONNX export and loading
work on the shared parameters in the parent, between updates.

Until the child has started (about a second of imports) the trainer runs the updates itself,
on the same shared parameters. The child ignores Ctrl+C (the parent decides when the run stops)
and exits when the parent
closes its end of the pipe or dies; a child that dies is reported as an error of the update.
"""

from __future__ import annotations

import signal
import traceback
from contextlib import AbstractContextManager, suppress
from multiprocessing.connection import Connection
from typing import Any

import torch
import torch.multiprocessing as torch_mp
from threadpoolctl import threadpool_limits

from dojo.errors import DojoError
from dojo.torch_layer.adam import GradientAdam
from dojo_ppo.fused_loss import Epochs, FusedDiscreteLoss, FusedLayers, run_epochs

# spawn: the parent has threads (TensorBoard's writer, the update thread) that fork would copy
# in whatever state they are.
_CONTEXT = torch_mp.get_context("spawn")


def shared_lock() -> AbstractContextManager[Any]:
    """A lock both the trainer process and its update process can hold."""
    return _CONTEXT.Lock()


def _serve(
    conn: Connection,
    layers: FusedLayers,
    optimizer: GradientAdam,
    flat_parameters: torch.Tensor,
    lock: AbstractContextManager[Any],
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")
    loss = FusedDiscreteLoss(layers)
    flat = flat_parameters.numpy()
    conn.send((True, None))  # ready
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            conn.send((True, run_epochs(loss, optimizer, flat, lock, job)))
        except Exception:
            conn.send((False, traceback.format_exc()))


class UpdateProcess:
    """A child process that runs :func:`~dojo_ppo.fused_loss.run_epochs` on shared parameters.

    Args:
        layers: the networks' layers, whose parameters are views of ``flat_parameters``.
        optimizer: Adam over those parameters, its moments and step count in shared memory.
        flat_parameters: the shared buffer holding every parameter.
        lock: the trainer's ``policy_lock`` (from :func:`shared_lock`).
        name: shows in error messages (the behavior name).
    """

    def __init__(
        self,
        layers: FusedLayers,
        optimizer: GradientAdam,
        flat_parameters: torch.Tensor,
        lock: AbstractContextManager[Any],
        name: str,
    ) -> None:
        self.name = name
        self._conn, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve,
            args=(child, layers, optimizer, flat_parameters, lock),
            name=f"dojo-ppo-update-{name}",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._ready = False

    def ready(self) -> bool:
        """Whether the child has started (imports take about a second; meanwhile the trainer
        updates in its own process, on the same shared parameters)."""
        if not self._ready and self._conn.poll():
            self._receive()
            self._ready = True
        return self._ready

    def _receive(self) -> Any:
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError) as err:
            self._process.join(timeout=5)
            raise DojoError(
                f"the update process of {self.name!r} ended unexpectedly (exit code "
                f"{self._process.exitcode})"
            ) from err
        if not ok:
            raise DojoError(f"the update process of {self.name!r} failed:\n{value}")
        return value

    def run(self, job: Epochs) -> tuple[float, float]:
        """Run ``job`` in the child (after :meth:`ready`); returns the mean policy and value
        losses."""
        with suppress(BrokenPipeError, OSError):  # a dead child: _receive reports it
            self._conn.send(job)
        return self._receive()

    def close(self) -> None:
        """Stop the child (idempotent)."""
        if self._process.is_alive():
            with suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
        self._conn.close()
