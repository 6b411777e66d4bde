"""The training loop: step the environment, feed trajectories to trainers, summarise, save.

One iteration (:meth:`TrainerController.advance`) does, for every behavior: read the steps
the environment produced, cut trajectories and hand them to the trainer, let the trainer
update, write summaries and checkpoints when a boundary was crossed, then choose actions for
all waiting agents in one forward pass; finally the environment is stepped once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dojo.api import Trainer, Trajectory
from dojo.artifacts.timers import hierarchical_timer
from dojo.config.settings import TrainerSettings
from dojo.envs.base import Environment
from dojo.errors import DojoError
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor

logger = logging.getLogger("dojo")


@dataclass
class BehaviorRuntime:
    """Everything the loop keeps for one behavior."""

    name: str
    trainer: Trainer
    processor: AgentProcessor
    stats: StatsReporter
    next_summary: int
    next_checkpoint: int
    collected: int = 0
    """Steps handed to the trainer so far (the trainer's own counter may lag behind when
    it updates in a background thread)."""


class UpdateThread:
    """Runs a trainer's ``process_trajectories`` + ``advance`` off the main thread.

    Used when ``threaded: true``: the environment keeps stepping with the current policy while
    the trainer updates. Besides the batch being trained on, batches of up to the trainer's
    :attr:`~dojo.api.Trainer.threaded_lookahead` steps (at least one batch) may wait for the
    update thread; then the environment waits for it: without a bound the environment loop,
    which needs the GIL for every step, would keep slowing the update down while it collects
    data with an ever older policy.
    An on-policy trainer allows one rollout (``buffer_size``), so the next rollout is collected
    while the last one trains.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.lookahead = max(0, int(trainer.threaded_lookahead))
        self.queue: queue.Queue[list[Trajectory] | None] = queue.Queue()
        self._waiting = 0  # steps submitted and not yet taken by the update thread
        self._room = threading.Condition()
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"dojo-update-{trainer.behavior_name}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is not None:
                with self._room:
                    self._waiting -= _steps(batch)
                    self._room.notify_all()
            try:
                if batch is None:
                    return
                if self.error is None:
                    self.trainer.process_trajectories(batch)
                    self.trainer.advance()
            except BaseException as err:  # reported to the main thread, which stops the run
                # Keep taking batches (unprocessed) so a waiting submit() never blocks forever.
                self.error = err
            finally:
                self.queue.task_done()

    def submit(self, trajectories: list[Trajectory]) -> None:
        self._raise_error()
        steps = _steps(trajectories)
        with self._room:
            # One batch may always wait; more only while they fit in the lookahead.
            self._room.wait_for(
                lambda: (
                    self._waiting == 0
                    or self._waiting + steps <= self.lookahead
                    or self.error is not None
                )
            )
            self._waiting += steps
        self.queue.put(trajectories)

    def drain(self) -> None:
        """Wait until every submitted batch was processed."""
        self.queue.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise DojoError(
                f"the update thread of {self.trainer.behavior_name!r} failed: {self.error}"
            ) from self.error

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=60)


def _steps(trajectories: list[Trajectory]) -> int:
    return sum(len(t) for t in trajectories)


class TrainerController:
    """Drives the environment and the trainers until every behavior reaches ``max_steps``.

    Args:
        env: the environment (already reset).
        behaviors: behavior name -> runtime parts.
        save_checkpoint: called with a behavior name at each ``checkpoint_interval`` boundary.
        stop_requested: returns ``True`` when the run must stop (Ctrl+C, SIGTERM).
        training: ``False`` under ``--inference``: no updates and no step limit.
    """

    def __init__(
        self,
        env: Environment,
        behaviors: Mapping[str, BehaviorRuntime],
        save_checkpoint: Callable[[str], None],
        stop_requested: Callable[[], bool],
        training: bool = True,
    ) -> None:
        self.env = env
        self.behaviors = dict(behaviors)
        self.save_checkpoint = save_checkpoint
        self.stop_requested = stop_requested
        self.training = training
        self.threads: dict[str, UpdateThread] = {}
        if training:
            for name, runtime in self.behaviors.items():
                if runtime.trainer.threaded:
                    self.threads[name] = UpdateThread(runtime.trainer)

    def finished(self) -> bool:
        """Every behavior passed its ``max_steps`` (never under ``--inference``)."""
        if not self.training:
            return False
        return all(rt.collected >= rt.trainer.settings.max_steps for rt in self.behaviors.values())

    def run(self) -> str:
        """Loop until done or stopped; returns ``"completed"`` or ``"interrupted"``."""
        with hierarchical_timer("TrainerController.start_learning"):
            while not self.finished():
                if self.stop_requested():
                    self.sync()
                    return "interrupted"
                self.advance()
            self.sync()
        return "completed"

    def sync(self) -> None:
        """Let background updates finish (before saving)."""
        for thread in self.threads.values():
            thread.drain()

    def close(self) -> None:
        for thread in self.threads.values():
            thread.stop()
        self.threads.clear()

    def advance(self) -> None:
        """One environment step for every behavior."""
        env = self.env
        with hierarchical_timer("TrainerController.advance"):
            for name, runtime in self.behaviors.items():
                decision, terminal = env.get_steps(name)
                with hierarchical_timer("process_trajectory"):
                    trajectories = runtime.processor.record_outcome(decision, terminal)
                if trajectories:
                    self._consume(name, runtime, trajectories)
                if len(terminal):
                    # Before act(): a finished agent's next decision starts a new episode.
                    runtime.trainer.end_episodes(terminal.agent_id)
                if len(decision):
                    output = runtime.trainer.act(decision)
                    if output.entropy is not None:
                        runtime.stats.add_stat("Policy/Entropy", output.entropy)
                    runtime.processor.record_actions(decision, output)
                    env.set_actions(name, output.actions)
            with hierarchical_timer("env_step"):
                env.step()
            self._environment_reports()

    def _environment_reports(self) -> None:
        """Custom statistics from the environment, and agents whose worker restarted."""
        for stat in self.env.take_stats():
            for runtime in self.behaviors.values():
                runtime.stats.add_stat(stat.key, stat.value, stat.aggregation)
        for name, agent_ids in self.env.take_dropped_agents().items():
            runtime = self.behaviors.get(name)
            if runtime is not None:
                runtime.processor.forget(agent_ids)
                # Their recurrent memories (if any) start again from zero, as a new episode.
                runtime.trainer.end_episodes(agent_ids)

    def _consume(self, name: str, runtime: BehaviorRuntime, trajectories: list[Trajectory]) -> None:
        trainer = runtime.trainer
        steps = sum(len(t) for t in trajectories)
        runtime.collected += steps
        if not self.training:
            trainer.step += steps
        elif name in self.threads:
            self.threads[name].submit(trajectories)
        else:
            with hierarchical_timer("trainer_advance"):
                trainer.process_trajectories(trajectories)
                trainer.advance()
        self._boundaries(name, runtime)

    def _boundaries(self, name: str, runtime: BehaviorRuntime) -> None:
        """Write summaries / checkpoints when the step count crossed their boundaries."""
        settings = runtime.trainer.settings
        step = runtime.collected
        if step >= runtime.next_summary:
            boundary = runtime.next_summary
            runtime.stats.set_stat("Is Training", float(self.training))
            runtime.stats.set_stat("Step", float(boundary))
            runtime.stats.write_summaries(boundary)
            runtime.next_summary = (step // settings.summary_freq + 1) * settings.summary_freq
        if self.training and step >= runtime.next_checkpoint:
            self.sync()
            self.save_checkpoint(name)
            interval = checkpoint_interval(settings)
            runtime.next_checkpoint = (step // interval + 1) * interval


def checkpoint_interval(settings: TrainerSettings) -> int:
    """Steps between checkpoints, honouring ``even_checkpoints``."""
    if settings.even_checkpoints:
        return max(1, int(settings.max_steps) // max(1, int(settings.keep_checkpoints)))
    return max(1, int(settings.checkpoint_interval))
