"""One training run from resolved options to written artifacts (the ``mlagents-learn`` body).

Order matters for the user: everything that can be checked without side effects (run folder
state, environment creation, trainer construction) happens before the results folder is
created, so a bad config, an unknown environment or a clashing run id leaves no trace.
Artifacts (checkpoints, final models, status files) are written on every exit path once
training has started: normal end, Ctrl+C / SIGTERM, or an environment failure.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import yaml

from dojo.api import RunInfo, StatsWriter, Trainer, TrainerContext
from dojo.artifacts.atomic import atomic_write_text, reporting_write_errors
from dojo.artifacts.timers import hierarchical_timer, reset_timers, write_timers
from dojo.artifacts.training_status import TrainingStatus
from dojo.config.fields import SafeName, Shortened
from dojo.config.settings import RunOptions, TrainerSettings
from dojo.env_parameters.build import build_environment_parameters
from dojo.envs.base import BehaviorSpec, Environment
from dojo.envs.factory import build_environment
from dojo.errors import ConfigError, DivergedError, EnvError, ResultsWriteError
from dojo.interrupts import EnvironmentCall, StopFlag, StopRequested, stop_requested
from dojo.plugin_host import PluginHost
from dojo.stats.reporter import StatsReporter
from dojo.training.agent_processor import AgentProcessor
from dojo.training.allocator import keep_freed_memory
from dojo.training.behavior_sections import apply_behavior_sections
from dojo.training.behavior_settings import (
    behavior_settings,
    warn_about_teams,
)
from dojo.training.checkpoints import CheckpointWriter, status_path
from dojo.training.results import (
    check_run_directory,
    clear_run_directory,
    initialize_path,
    missing_folders,
    remove_interrupted_writes,
    remove_new_folders,
)
from dojo.training.trainer_controller import BehaviorRuntime, TrainerController, checkpoint_interval

logger = logging.getLogger("dojo")


@dataclass
class RunRequest:
    """What ``mlagents-learn`` resolved from the command line and the YAML file."""

    options: RunOptions
    config_given: bool
    default_settings_for: Callable[[str], TrainerSettings]
    dump_options: Callable[[RunOptions], dict[str, Any]]
    dump_behavior: Callable[[TrainerSettings], dict[str, Any]]
    command_line: list[str]
    cli_options: dict[str, Any]


def refuse_unsafe_behavior_name(name: str, environment: str) -> None:
    """A behavior name becomes a folder and file names of the run: an environment (a Unity
    player is another program) must not make dojo write outside the run folder.

    Raises:
        EnvError: ``name`` holds ``/``, ``\\``, a control character, or is ``.``/``..``.
    """
    problem = SafeName.problem(name)
    if problem is not None:
        raise EnvError(
            f"{environment} announced a behavior named {Shortened(name)!r}, which {problem}: "
            f"its results would not stay in the run folder. Behavior names must be "
            f"{SafeName.RULE}."
        )


def resolve_seed(seed: int) -> int:
    """ML-Agents: -1 means a random seed in [0, 10000)."""
    return random.randint(0, 9999) if seed < 0 else seed


def configure_torch(options: RunOptions) -> str:
    """Apply ``torch_settings``; returns the device string."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = options.torch_settings.num_threads
    # Small policies are fastest on one thread: more threads cost more in synchronisation than
    # they gain on 64-unit matrices, and the environment needs the other core.
    count = int(threads) if threads else 1
    torch.set_num_threads(count)
    # numpy's BLAS too (trainers that run small networks' math in numpy, as PPO's fused loss):
    # by default OpenBLAS starts a thread per core, whose wake-ups cost more than they share.
    threadpool_limits(limits=count, user_api="blas")
    device = options.torch_settings.device
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError as err:
        raise ConfigError(
            f"torch_settings.device / --torch-device {device!r} is not a torch device: use cpu, "
            "cuda or cuda:N."
        ) from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"torch_settings.device / --torch-device {device!r}: this machine has no CUDA device "
            "available to torch. Use --torch-device=cpu or leave it unset."
        )
    return device


def log_versions() -> None:
    """The start-up banner: versions that matter when comparing runs."""
    import torch

    import dojo

    logger.info(
        "dojo %s (mlagents-learn compatible, communicator API 1.5.0), PyTorch %s",
        dojo.__version__,
        torch.__version__,
    )


def build_trainer(
    host: PluginHost,
    name: str,
    spec: BehaviorSpec,
    settings: TrainerSettings,
    context: TrainerContext,
) -> Trainer:
    """Construct the behavior's reward signals and trainer through their plugins, with the
    add-ons and wrappers of its behavior sections."""
    signals = {}
    for signal_name, signal_settings in settings.reward_signals.items():
        entry = host.lookup("reward_signals", signal_name, where=f"behaviors.{name}.reward_signals")
        signals[signal_name] = entry.load_factory()(
            name=signal_name, settings=signal_settings, behavior_spec=spec, device=context.device
        )
    entry = host.lookup("trainers", settings.trainer_type, where=f"behaviors.{name}.trainer_type")
    trainer = entry.load_factory()(
        behavior_name=name,
        behavior_spec=spec,
        settings=settings,
        reward_signals=signals,
        context=context,
    )
    return apply_behavior_sections(host, name, settings, trainer)


class Run:
    """A training run: build everything, loop, and write artifacts on every exit path."""

    def __init__(self, request: RunRequest, host: PluginHost) -> None:
        self.request = request
        self.host = host
        options = request.options
        self.training = not options.checkpoint_settings.inference
        self.seed = resolve_seed(options.env_settings.seed)
        self.options = replace(options, env_settings=replace(options.env_settings, seed=self.seed))
        self.run_dir = check_run_directory(options.checkpoint_settings)
        #: Samplers and completion criteria, built by their plugins' factories (applied to
        #: environments by a later version: see the warning in :meth:`run`).
        self.environment_parameters = build_environment_parameters(
            host, options.environment_parameters, self.seed
        )
        # Read (and checked) before anything is built or written.
        resume = options.checkpoint_settings.resume
        self.status = TrainingStatus.load(status_path(self.run_dir)) if resume else TrainingStatus()
        #: A results file could not be written (a full disk): nothing more is tried.
        self._write_failed = False
        self.writers: list[StatsWriter] = []
        self.behaviors: dict[str, BehaviorRuntime] = {}
        self.env: Environment | None = None
        self.info: RunInfo | None = None

    def execute(self) -> str:
        """Run to the end; returns ``"completed"``, ``"interrupted"``; raises on failure."""
        reset_timers()
        stop = StopFlag()
        new_folders = missing_folders(self.run_dir)
        with stop.installed():
            try:
                with hierarchical_timer("run_training.setup"):
                    self._set_up()
            except StopRequested:
                remove_new_folders(new_folders)
                logger.info("%s: nothing was trained or saved.", self._stopped_before_training())
                return "interrupted"
            except BaseException:
                remove_new_folders(new_folders)
                raise
            if self.options.environment_parameters:
                logger.warning(
                    "environment_parameters (%s) are validated but not applied yet: curricula "
                    "and parameter sampling arrive in a later version of dojo.",
                    ", ".join(self.options.environment_parameters),
                )
            stop.saving = True
            assert self.info is not None
            self.host.hook.dojo_run_started(run=self.info)
            reason = "failed"
            controller = TrainerController(
                self.env, self.behaviors, self._periodic_checkpoint, stop, self.training
            )
            try:
                reason = controller.run()
            except StopRequested as stopped:  # waiting for an environment, or abandoning it
                logger.log(stopped.level, "%s.", stopped)
                reason = "interrupted"
            except ResultsWriteError:
                self._write_failed = True
                raise
            finally:
                self._finish(controller, reason)
        return reason

    # ------------------------------------------------------------------ setup
    def _set_up(self) -> None:
        """Environment, trainers, then the run folder: a failure before it leaves no trace.

        Raises:
            StopRequested: Ctrl+C or SIGTERM before training started.
        """
        # The environment first: a wrong --env is reported before torch is imported.
        self.env = build_environment(
            self.options.env_settings,
            self.seed,
            self.host,
            engine_settings=self.options.engine_settings,
            log_dir=self.run_dir / "run_logs",
        )
        try:
            keep_freed_memory()
            device = configure_torch(self.options)
            log_versions()
            with EnvironmentCall(f"{self.env.description}: reset()"):
                self.env.reset()
            specs = dict(self.env.behavior_specs)
            for name in specs:
                refuse_unsafe_behavior_name(name, self.env.description)
            settings = {
                name: behavior_settings(
                    self.options,
                    name,
                    config_given=self.request.config_given,
                    default_settings_for=self.request.default_settings_for,
                )
                for name in specs
            }
            # Trainers first: they can still refuse the config, and nothing is on disk yet.
            self._create_behaviors(specs, settings, device)
            if stop_requested():
                raise StopRequested("stopped before training started")
            self._create_run_folder()
        except BaseException:
            for runtime in self.behaviors.values():  # their update threads or processes too
                runtime.trainer.close()
            self.env.close()
            raise

    def _stopped_before_training(self) -> str:
        """What a stop during set-up interrupted, as the user sees it."""
        if self.env is not None:
            return "Stopped before training started"
        env_path = self.options.env_settings.env_path
        if env_path is None:
            return "Stopped while waiting for the Unity Editor to connect"
        return f"Stopped while waiting for the environment (--env {env_path}) to connect"

    def _create_run_folder(self) -> None:
        checkpoint = self.options.checkpoint_settings
        with reporting_write_errors(f"the run folder {self.run_dir}"):
            if checkpoint.resume:
                remove_interrupted_writes(self.run_dir, self.status)
            elif checkpoint.force:
                clear_run_directory(self.run_dir)
            (self.run_dir / "run_logs").mkdir(parents=True, exist_ok=True)
        behaviors = tuple(sorted(self.behaviors))
        self.info = RunInfo(
            checkpoint.run_id,
            self.run_dir.resolve(),
            self.options,
            behaviors,
            self.request.cli_options,
        )
        for entry in self.host.registry("stats_writers").entries():
            if entry.extras.get("enabled_by_default", True):
                self.writers.append(entry.load_factory()(run=self.info))
        for runtime in self.behaviors.values():
            behavior = self.request.dump_behavior(runtime.trainer.settings)
            runtime.stats.add_property("hyperparameters", behavior)

    def _create_behaviors(
        self, specs: dict[str, BehaviorSpec], settings: dict[str, TrainerSettings], device: str
    ) -> None:
        checkpoint = self.options.checkpoint_settings
        for name, spec in specs.items():
            behavior = settings[name]
            assert self.env is not None
            warn_about_teams(self.env, name, behavior.trainer_type)
            stats = StatsReporter(name, self.writers)
            context = TrainerContext(self.run_dir / name, self.seed, device, self.training, stats)
            trainer = build_trainer(self.host, name, spec, behavior, context)
            if checkpoint.resume and self._has_checkpoint(name):
                trainer.load_checkpoint(self.run_dir / name / "checkpoint.pt")
                logger.info("Resuming %s from step %d.", name, trainer.step)
            elif checkpoint.initialize_from is not None or behavior.init_path is not None:
                path = initialize_path(checkpoint, name, behavior.init_path)
                trainer.load_checkpoint(path, reset_step=True)
                logger.info("Initialized %s from %s.", name, path)
            elif not self.training:
                logger.warning(
                    "--inference without --resume or --initialize-from: %s acts with an "
                    "untrained, randomly initialized policy. Add --resume to run the policy "
                    "this run id trained, or --initialize-from=<run-id> for another run's.",
                    name,
                )
            step = trainer.step
            summary = behavior.summary_freq
            interval = checkpoint_interval(behavior)
            self.behaviors[name] = BehaviorRuntime(
                name=name,
                trainer=trainer,
                processor=AgentProcessor(spec, behavior.time_horizon, stats),
                stats=stats,
                next_summary=(step // summary + 1) * summary,
                next_checkpoint=(step // interval + 1) * interval,
                collected=step,
            )

    def _has_checkpoint(self, name: str) -> bool:
        """``--resume``: whether behavior ``name`` has a checkpoint to resume from. A behavior
        with neither ``checkpoint.pt`` nor a checkpoint in the status (the run was stopped
        before its first one) starts from step 0, with a warning."""
        if (self.run_dir / name / "checkpoint.pt").exists() or self.status.checkpoints(name):
            return True  # a listed checkpoint without checkpoint.pt: the loader says so
        logger.warning(
            "--resume: %s has no checkpoint in %s (the run was stopped before its first "
            "one), so %s starts from step 0.",
            name,
            self.run_dir,
            name,
        )
        return False

    # ------------------------------------------------------------------ artifacts
    def _mean_reward(self, runtime: BehaviorRuntime) -> float | None:
        values = runtime.stats.recent("Environment/Cumulative Reward")
        return sum(values) / len(values) if values else None

    def _periodic_checkpoint(self, name: str) -> None:
        runtime = self.behaviors[name]
        with hierarchical_timer("save_model"):
            try:
                info = CheckpointWriter(self.run_dir, self.status).save(
                    runtime.trainer, self._mean_reward(runtime)
                )
            except DivergedError:
                runtime.diverged = True
                raise
        assert self.info is not None
        self.host.hook.dojo_checkpoint_saved(run=self.info, checkpoint=info)

    def _save_status(self) -> None:
        path = status_path(self.run_dir)
        with reporting_write_errors(str(path), "Its previous version is intact."):
            self.status.save(path)

    def _finish(self, controller: TrainerController, reason: str) -> None:
        """Save final models and status files, whatever ended the loop."""
        try:
            controller.sync()
        except DivergedError:
            pass  # the loop already stopped on it; that behavior is not saved below
        except Exception as err:  # an update thread failed: still save what we have
            logger.error("%s", err)
        controller.close()
        diverged: DivergedError | None = None
        failures: list[ResultsWriteError] = []
        try:
            if self.training and not self._write_failed:
                writer = CheckpointWriter(self.run_dir, self.status)
                for runtime in self.behaviors.values():
                    if runtime.diverged:  # its last good checkpoint stays the latest
                        continue
                    try:
                        info = writer.save(runtime.trainer, self._mean_reward(runtime), final=True)
                    except DivergedError as err:  # the others are still saved
                        diverged = diverged or err
                        continue
                    assert self.info is not None
                    self.host.hook.dojo_checkpoint_saved(run=self.info, checkpoint=info)
            if not self._write_failed:
                self._save_status()
        except ResultsWriteError as err:
            self._write_failed = True
            if reason != "failed":
                raise
            logger.error("%s", err)  # the error that ended the loop is the one shown
        finally:
            for runtime in self.behaviors.values():
                runtime.trainer.close()
            for writer_ in self.writers:
                failures += self._attempt_write(writer_.close)
            if self.env is not None:
                self.env.close()
            failures += self._attempt_write(self._write_run_logs)
            assert self.info is not None
            self.host.hook.dojo_run_finished(run=self.info, reason=reason)
        if failures and reason != "failed":
            raise failures[0]
        for failure in failures:  # the error that ended the loop is the one shown
            logger.warning("%s", failure)
        if diverged is not None:
            raise diverged

    def _attempt_write(self, write: Callable[[], None]) -> list[ResultsWriteError]:
        """Run ``write`` (end-of-run files); a failure is returned, to be raised once the run
        is closed, or only logged when a write already failed (the disk is still full)."""
        try:
            write()
        except ResultsWriteError as err:
            if self._write_failed:
                logger.warning("%s", err)
                return []
            self._write_failed = True
            return [err]
        return []

    def _write_run_logs(self) -> None:
        options = self.request.dump_options(self.options)
        path = self.run_dir / "configuration.yaml"
        with reporting_write_errors(str(path)):
            atomic_write_text(path, yaml.safe_dump(options, sort_keys=False))
        path = self.run_dir / "run_logs" / "timers.json"
        with reporting_write_errors(str(path)):
            write_timers(path, {"command_line_arguments": " ".join(self.request.command_line)})


def run_training(request: RunRequest, host: PluginHost) -> str:
    """Train as ``request`` says; returns how the run ended."""
    return Run(request, host).execute()
