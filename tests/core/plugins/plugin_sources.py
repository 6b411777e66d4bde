"""Sources of the throwaway plugins the hook tests install (one distribution each).

Each is what a third party would write: a module with ``@hookimpl`` functions, registering
components by lazy ``"module:attr"`` strings. Plugins that report what they saw append JSON
lines to the file named by an environment variable, so a test can read them after the run.
"""

from __future__ import annotations

#: ``bonus``: a reward signal paying a constant ``bonus`` every step (its own YAML key).
BONUS_REWARD_SIGNAL = """
    import numpy as np
    from marshmallow import Schema, fields, validate

    from dojo.api import RewardSignal
    from dojo.hookspecs import hookimpl


    class BonusSchema(Schema):
        bonus = fields.Float(load_default=1.0, validate=validate.Range(min=0))


    class BonusRewardSignal(RewardSignal):
        stat_name = "Bonus"

        def evaluate(self, batch):
            return np.full(len(batch), self.settings.params["bonus"], dtype=np.float32)


    @hookimpl
    def dojo_register_reward_signals(registry):
        registry.register(
            "bonus",
            factory="dojo_bonus:BonusRewardSignal",
            schema="dojo_bonus:BonusSchema",
            description="A constant reward every step.",
        )
"""

#: ``recorder``: a stats writer that appends every summary to ``<run_dir>/recorded_stats.jsonl``.
RECORDING_STATS_WRITER = """
    import json

    from dojo.api import StatsWriter
    from dojo.hookspecs import hookimpl


    class RecordingWriter(StatsWriter):
        def __init__(self, *, run):
            self.path = run.run_dir / "recorded_stats.jsonl"

        def _append(self, record):
            with self.path.open("a") as log:
                log.write(json.dumps(record) + "\\n")

        def write_stats(self, category, values, step):
            summary = {key: value.value for key, value in values.items()}
            self._append({"category": category, "step": step, "values": summary})

        def add_property(self, category, key, value):
            self._append({"category": category, "property": key})

        def close(self):
            self._append({"closed": True})


    @hookimpl
    def dojo_register_stats_writers(registry):
        registry.register(
            "recorder", factory="dojo_recorder:RecordingWriter", description="Records summaries."
        )
"""

#: ``toy:``: an environment scheme whose targets are nicknames of Gymnasium environments.
TOY_ENVIRONMENTS = """
    import json
    import os

    from dojo.hookspecs import hookimpl

    NICKNAMES = {"cartpole": "CartPole-v1"}


    def make_toy_environment(context):
        from dataclasses import replace

        from dojo.envs.gymnasium_env import make_gymnasium_environment

        record = {
            "target": context.target,
            "num_envs": context.num_envs,
            "seed": context.seed,
            "log_dir": str(context.log_dir),
            "time_scale": context.engine_settings.time_scale,
        }
        with open(os.environ["TOY_LOG"], "a") as log:
            log.write(json.dumps(record) + "\\n")
        if context.target not in NICKNAMES:
            raise ValueError(f"no toy named {context.target!r}; toys: {', '.join(NICKNAMES)}")
        return make_gymnasium_environment(replace(context, target=NICKNAMES[context.target]))


    @hookimpl
    def dojo_register_environments(registry):
        registry.register(
            "toy", factory="dojo_toy:make_toy_environment", description="Gymnasium nicknames."
        )
"""

#: ``watch``: adds ``--watch-label`` and records the run's lifecycle notifications.
LIFECYCLE_WATCHER = """
    import json
    import os

    from dojo.hookspecs import hookimpl


    def _append(record):
        with open(os.environ["WATCH_LOG"], "a") as log:
            log.write(json.dumps(record) + "\\n")


    @hookimpl
    def dojo_add_cli_options(parser):
        parser.add_argument(
            "--watch-label", default="unlabelled", help="label the watch plugin logs runs with"
        )


    @hookimpl
    def dojo_run_started(run):
        _append({
            "event": "run_started",
            "run_id": run.run_id,
            "run_dir": str(run.run_dir),
            "run_dir_exists": run.run_dir.is_dir(),
            "behaviors": list(run.behaviors),
            "max_steps": run.options.behaviors["CartPole"].max_steps,
            "cli_options": dict(run.cli_options),
        })


    @hookimpl
    def dojo_checkpoint_saved(run, checkpoint):
        _append({
            "event": "checkpoint_saved",
            "run_id": run.run_id,
            "behavior_name": checkpoint.behavior_name,
            "step": checkpoint.step,
            "final": checkpoint.final,
            "reward": checkpoint.reward,
            "pt_path": str(checkpoint.pt_path),
            "onnx_path": str(checkpoint.onnx_path),
            "pt_exists": checkpoint.pt_path.is_file(),
            "onnx_exists": checkpoint.onnx_path.is_file(),
        })


    @hookimpl
    def dojo_run_finished(run, reason):
        _append({
            "event": "run_finished",
            "run_id": run.run_id,
            "reason": reason,
            "configuration_written": (run.run_dir / "configuration.yaml").is_file(),
            "timers_written": (run.run_dir / "run_logs" / "timers.json").is_file(),
        })
"""

#: ``random``: a trainer type that acts uniformly at random and never learns.
RANDOM_TRAINER = """
    import json
    from dataclasses import asdict, dataclass

    import numpy as np
    from marshmallow import Schema, fields, post_load, validate

    from dojo.api import ActionOutput, Trainer
    from dojo.envs.base import ActionTuple
    from dojo.hookspecs import hookimpl


    @dataclass(frozen=True)
    class RandomHyperparameters:
        seed_offset: int


    class RandomHyperparametersSchema(Schema):
        seed_offset = fields.Integer(load_default=0, validate=validate.Range(min=0))

        @post_load
        def _build(self, data, **_kwargs):
            return RandomHyperparameters(**data)


    class RandomTrainer(Trainer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            offset = self.settings.hyperparameters.seed_offset
            self.rng = np.random.default_rng(self.context.seed + offset)

        def act(self, decision_steps):
            spec = self.behavior_spec.action_spec
            n = len(decision_steps)
            discrete = np.stack(
                [self.rng.integers(0, size, n) for size in spec.discrete_branches], axis=1
            ) if spec.discrete_branches else np.zeros((n, 0), dtype=np.int64)
            continuous = self.rng.uniform(-1, 1, (n, spec.continuous_size)).astype(np.float32)
            return ActionOutput(ActionTuple(continuous, discrete.astype(np.int64)))

        def process_trajectories(self, trajectories):
            self.step += sum(len(t) for t in trajectories)

        def advance(self):
            pass

        def save_checkpoint(self, path):
            state = {"step": self.step, "hyperparameters": asdict(self.settings.hyperparameters)}
            path.write_text(json.dumps(state))

        def load_checkpoint(self, path, reset_step=False):
            if not reset_step:
                self.step = json.loads(path.read_text())["step"]

        def export_onnx(self, path):
            path.write_bytes(b"")  # a random policy has no network to export


    @hookimpl
    def dojo_register_trainers(registry):
        registry.register(
            "random",
            factory="dojo_random:RandomTrainer",
            schema="dojo_random:RandomHyperparametersSchema",
            description="Uniformly random actions (a baseline).",
            on_policy=True,
        )
"""
