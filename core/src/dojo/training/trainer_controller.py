"""The training loop: step the environment, feed trajectories to trainers, summarise, save.

One iteration (:meth:`TrainerController.advance`) does, for every behavior: read the steps
the environment produced, cut trajectories and hand them to the trainer, let the trainer
update, write summaries and checkpoints when a boundary was crossed, then choose actions for
all waiting agents in one forward pass; finally the environment is stepped once.

Boundaries are checked after every trajectory, as ML-Agents does: many agents can finish a
trajectory at the same environment step (16 Acrobot copies cut at ``time_horizon`` 256 hand
over 4096 steps at once), and such a batch may cross several multiples of ``summary_freq``;
each multiple gets its own summary, which holds the episodes finished up to the trajectory that
crossed it.
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
from dojo.errors import DivergedError, DojoError
from dojo.interrupts import EnvironmentCall
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor, FinishedEpisode
from dojo.training.divergence import check_losses

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
    diverged: bool = False
    """An update produced non-finite values: nothing more of this trainer is saved."""

    def check_update(self) -> None:
        """Raise :class:`~dojo.errors.DivergedError` if the last update's loss was not finite."""
        try:
            check_losses(self.name, self.stats, int(self.trainer.step))
        except DivergedError:
            self.diverged = True
            raise


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

    def __init__(self, trainer: Trainer, check: Callable[[], None] = lambda: None) -> None:
        self.trainer = trainer
        self.check = check  # after each update, e.g. BehaviorRuntime.check_update
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
                    self.check()
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
        if isinstance(self.error, DivergedError):
            raise self.error
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
        # A stop abandons a step that does not return (a hung environment) after a grace time.
        self._env_step = EnvironmentCall(f"{env.description}: step()")
        if training:
            for name, runtime in self.behaviors.items():
                if runtime.trainer.threaded:
                    self.threads[name] = UpdateThread(runtime.trainer, runtime.check_update)

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
                    trajectories, episodes = runtime.processor.cut_trajectories(decision, terminal)
                if trajectories:
                    self._consume(name, runtime, trajectories, episodes)
                elif episodes:
                    runtime.processor.report_episodes(episodes)
                if len(terminal):
                    # Before act(): a finished agent's next decision starts a new episode.
                    runtime.trainer.end_episodes(terminal.agent_id)
                if len(decision):
                    output = runtime.trainer.act(decision)
                    if output.entropy is not None:
                        runtime.stats.add_stat("Policy/Entropy", output.entropy)
                    runtime.processor.record_actions(decision, output)
                    env.set_actions(name, output.actions)
            with hierarchical_timer("env_step"), self._env_step:
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

    def _consume(
        self,
        name: str,
        runtime: BehaviorRuntime,
        trajectories: list[Trajectory],
        episodes: list[FinishedEpisode],
    ) -> None:
        """Hand ``trajectories`` to the trainer and report ``episodes``, with a summary or a
        checkpoint after each trajectory that crosses a boundary.

        A batch that crosses boundaries goes to the trainer in runs that end at the crossing
        trajectories, so each summary holds the statistics of the runs before it; the trainer
        updates (``advance``) once, after the whole batch, as it does for a batch that crosses
        none (the usual case, handed over whole).
        """
        # What the trainer learns from and counts (a wrapper may keep some agents' out).
        trajectories = runtime.trainer.learned_trajectories(trajectories)
        thread = self.threads.get(name) if self.training else None
        if thread is not None:
            # The update thread processes the batch; its statistics arrive when it does.
            thread.submit(trajectories)
        process = thread is None
        steps = _steps(trajectories)
        if runtime.collected + steps >= self._next_boundary(runtime):
            trajectories, episodes = self._cross_boundaries(
                name, runtime, trajectories, episodes, process
            )
            steps = _steps(trajectories)
        if episodes:
            runtime.processor.report_episodes(episodes)
        self._hand_over(runtime, trajectories, process, True, steps)

    def _cross_boundaries(
        self,
        name: str,
        runtime: BehaviorRuntime,
        trajectories: list[Trajectory],
        episodes: list[FinishedEpisode],
        process: bool,
    ) -> tuple[list[Trajectory], list[FinishedEpisode]]:
        """Hand over the trajectories of a batch up to the last one that crosses a boundary,
        each crossing followed by its summary or checkpoint; returns the trajectories after it
        and the episodes not reported yet."""
        start = 0
        step = runtime.collected
        for index, trajectory in enumerate(trajectories):
            step += len(trajectory)
            if step >= self._next_boundary(runtime):
                self._hand_over(runtime, trajectories[start : index + 1], process, False)
                start = index + 1
                episodes = _report_episodes(runtime, episodes, start)
                self._boundaries(name, runtime)
        return trajectories[start:], episodes

    def _next_boundary(self, runtime: BehaviorRuntime) -> int:
        """The step of the next summary or (when training) checkpoint."""
        if self.training:
            return min(runtime.next_summary, runtime.next_checkpoint)
        return runtime.next_summary

    def _hand_over(
        self,
        runtime: BehaviorRuntime,
        trajectories: list[Trajectory],
        process: bool,
        update: bool,
        steps: int | None = None,
    ) -> None:
        """Count ``trajectories`` (``steps`` steps, if known) as collected; with ``process`` the
        trainer takes them here, and with ``update`` it then updates if it has enough
        experience."""
        if steps is None:
            steps = _steps(trajectories)
        runtime.collected += steps
        if not self.training:
            runtime.trainer.step += steps
        elif process:
            with hierarchical_timer("trainer_advance"):
                if trajectories:
                    runtime.trainer.process_trajectories(trajectories)
                if update:
                    runtime.trainer.advance()
                    runtime.check_update()

    def _boundaries(self, name: str, runtime: BehaviorRuntime) -> None:
        """Write summaries / checkpoints when the step count crossed their boundaries; a
        summary is labelled with the multiple of ``summary_freq`` crossed."""
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


def _report_episodes(
    runtime: BehaviorRuntime, episodes: list[FinishedEpisode], trajectories_before: int
) -> list[FinishedEpisode]:
    """Report the episodes that ended with the first ``trajectories_before`` trajectories of a
    batch; returns the others."""
    done = 0
    while done < len(episodes) and episodes[done].trajectories_before <= trajectories_before:
        done += 1
    runtime.processor.report_episodes(episodes[:done])
    return episodes[done:]


def checkpoint_interval(settings: TrainerSettings) -> int:
    """Steps between checkpoints, honouring ``even_checkpoints``."""
    if settings.even_checkpoints:
        return max(1, int(settings.max_steps) // max(1, int(settings.keep_checkpoints)))
    return max(1, int(settings.checkpoint_interval))
