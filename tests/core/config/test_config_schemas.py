"""Schemas: defaults, parsing rules, descriptions, and the settings objects they build."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from marshmallow import Schema, ValidationError, fields

from dojo.config import environment_parameters, schemas
from dojo.config.loader import dump_run_options, resolve_run_options
from dojo.config.settings import NetworkSettings, RewardSignalSettings, RunOptions, TrainerSettings
from dojo.errors import ConfigError
from dojo_ppo.settings import PPOHyperparametersSchema, PPOSettings


def resolve(host, data: dict, overrides: dict | None = None) -> RunOptions:
    return resolve_run_options(data, overrides or {}, host, "test.yaml")


def _all_schemas(host) -> list[Schema]:
    return [
        schemas.RunOptionsSchema(host=host),
        schemas.TrainerSettingsSchema(host=host),
        schemas.NetworkSettingsSchema(),
        schemas.MemorySchema(),
        schemas.RewardSignalCommonSchema(),
        schemas.EnvSettingsSchema(),
        schemas.EngineSettingsSchema(),
        schemas.CheckpointSettingsSchema(),
        schemas.TorchSettingsSchema(),
        environment_parameters.SamplerSchema(),
        environment_parameters.LessonSchema(),
        environment_parameters.CompletionCriteriaSchema(),
        PPOHyperparametersSchema(),
    ]


def test_every_field_has_a_one_line_description(host) -> None:
    for schema in _all_schemas(host):
        for name, field in schema.fields.items():
            description = field.metadata.get("description", "")
            assert description, f"{type(schema).__name__}.{name} has no description"
            assert "\n" not in description


def test_unknown_keys_raise_everywhere(host) -> None:
    for schema in _all_schemas(host):
        with pytest.raises(ValidationError) as caught:
            schema.load({"no_such_key": 1})
        assert "no_such_key" in caught.value.messages


def test_defaults_are_ml_agents(host) -> None:
    options = resolve(host, {"behaviors": {"A": {}}})
    behavior = options.behaviors["A"]
    assert behavior == TrainerSettings(
        trainer_type="ppo", hyperparameters=PPOSettings(), network_settings=NetworkSettings()
    )
    assert behavior.reward_signals == {"extrinsic": RewardSignalSettings()}
    assert PPOSettings() == PPOSettings(
        batch_size=1024,
        buffer_size=10240,
        learning_rate=3e-4,
        beta=5e-3,
        epsilon=0.2,
        lambd=0.95,
        num_epoch=3,
        shared_critic=False,
        learning_rate_schedule="linear",
        beta_schedule="linear",
        epsilon_schedule="linear",
        epsilon_final=0.1,
    )
    assert options.default_settings is None
    assert options.environment_parameters is None
    assert options.debug is False


def test_empty_file_equals_no_file(host) -> None:
    assert resolve(host, {}) == RunOptions()


@pytest.mark.parametrize(
    ("written", "steps"), [(500000, 500000), ("5.0e5", 500000), ("3e7", 30000000), (5.5, 5)]
)
def test_max_steps_is_int_of_float(host, written, steps: int) -> None:
    options = resolve(host, {"behaviors": {"A": {"max_steps": written}}})
    assert options.behaviors["A"].max_steps == steps


def test_step_counts_accept_exponent_strings(host) -> None:
    options = resolve(host, {"behaviors": {"A": {"summary_freq": "1e4"}}})
    assert options.behaviors["A"].summary_freq == 10000


@pytest.mark.parametrize(
    ("given", "beta", "epsilon"),
    [
        ({}, "linear", "linear"),
        ({"learning_rate_schedule": "constant"}, "constant", "constant"),
        ({"learning_rate_schedule": "constant", "beta_schedule": "linear"}, "linear", "constant"),
        ({"learning_rate_schedule": "linear"}, "linear", "linear"),
    ],
)
def test_ppo_schedules_follow_learning_rate_schedule(given: dict, beta: str, epsilon: str) -> None:
    settings = PPOHyperparametersSchema().load(given)
    assert (settings.beta_schedule, settings.epsilon_schedule) == (beta, epsilon)


def test_ppo_settings_are_frozen() -> None:
    settings = PPOHyperparametersSchema().load({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.batch_size = 1  # type: ignore[misc]


def test_encoding_size_is_kept_and_sets_hidden_units_only_without_network_settings(
    full_host,
) -> None:
    """ML-Agents 1.1.0: the deprecated key stays in the settings and, when the signal has no
    network_settings, becomes its network_settings.hidden_units."""
    options = resolve(
        full_host,
        {
            "behaviors": {
                "A": {"reward_signals": {"curiosity": {"encoding_size": 64}}},
                "B": {
                    "reward_signals": {
                        "rnd": {"encoding_size": 64, "network_settings": {"num_layers": 1}}
                    }
                },
            }
        },
    )
    a = options.behaviors["A"].reward_signals["curiosity"]
    assert a.network_settings.hidden_units == 64
    assert a.params["encoding_size"] == 64
    b = options.behaviors["B"].reward_signals["rnd"]
    assert (b.network_settings.hidden_units, b.network_settings.num_layers) == (128, 1)
    assert b.params["encoding_size"] == 64
    dumped = dump_run_options(options)["behaviors"]
    assert dumped["A"]["reward_signals"]["curiosity"]["encoding_size"] == 64
    assert dumped["A"]["reward_signals"]["curiosity"]["network_settings"]["hidden_units"] == 64
    assert dumped["B"]["reward_signals"]["rnd"]["encoding_size"] == 64
    assert dumped["B"]["reward_signals"]["rnd"]["network_settings"]["hidden_units"] == 128
    assert resolve(full_host, dump_run_options(options)) == options


def test_extrinsic_has_no_encoding_size(host) -> None:
    """ML-Agents 1.1.0 refuses it: only curiosity, gail and rnd had an encoder."""
    with pytest.raises(ConfigError, match=r"reward_signals\.extrinsic\.encoding_size: unknown key"):
        resolve(
            host, {"behaviors": {"A": {"reward_signals": {"extrinsic": {"encoding_size": 64}}}}}
        )


def test_encoding_size_with_the_reward_plugins_schemas() -> None:
    """The installed dojo-rewards schemas (curiosity, rnd) keep the key in the resolved file."""
    rewards = pytest.importorskip("dojo_rewards.plugin")
    import dojo_ppo.plugin
    from dojo.plugin_host import load_plugins

    host = load_plugins(
        discover=False, extra_plugins=(("ppo", dojo_ppo.plugin), ("rewards", rewards))
    )
    signals = {"curiosity": {"encoding_size": 32}, "rnd": {"encoding_size": 16}}
    options = resolve(host, {"behaviors": {"A": {"reward_signals": signals}}})
    dumped = dump_run_options(options)["behaviors"]["A"]["reward_signals"]
    for name, size in (("curiosity", 32), ("rnd", 16)):
        assert options.behaviors["A"].reward_signals[name].network_settings.hidden_units == size
        assert list(dumped[name]) == [
            "gamma",
            "strength",
            "network_settings",
            "learning_rate",
            "encoding_size",
        ]
        assert dumped[name]["encoding_size"] == size


def test_legacy_keys_are_dropped_with_a_warning(host, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dojo.config"):
        options = resolve(
            host, {"behaviors": {"A": {"framework": "tensorflow", "output_path": "default"}}}
        )
    assert options.behaviors["A"] == resolve(host, {"behaviors": {"A": {}}}).behaviors["A"]
    assert "'framework' is no longer used" in caplog.text
    assert "'output_path' is no longer used" in caplog.text


def test_self_play_team_change_defaults_to_five_save_steps(full_host) -> None:
    options = resolve(full_host, {"behaviors": {"A": {"self_play": {"save_steps": 1000}}}})
    assert options.behaviors["A"].sections["self_play"] == {
        "save_steps": 1000,
        "team_change": 5000,
        "swap_steps": 2000,
        "window": 10,
        "play_against_latest_model_ratio": 0.5,
        "initial_elo": 1200.0,
    }


def test_behavioral_cloning_needs_demo_path(full_host) -> None:
    with pytest.raises(Exception, match=r"behavioral_cloning.demo_path: is required"):
        resolve(full_host, {"behaviors": {"A": {"behavioral_cloning": {"strength": 0.5}}}})


def test_init_path_must_be_a_pt_file(host) -> None:
    with pytest.raises(Exception, match=r"init_path: must name a \.pt checkpoint"):
        resolve(host, {"behaviors": {"A": {"init_path": "model.onnx"}}})


def test_run_id_is_text_even_when_written_as_a_number(host) -> None:
    options = resolve(host, {"checkpoint_settings": {"run_id": 12}})
    assert options.checkpoint_settings.run_id == "12"


def test_num_threads_is_our_torch_setting(host) -> None:
    options = resolve(host, {"torch_settings": {"device": "cuda:1", "num_threads": 4}})
    assert (options.torch_settings.device, options.torch_settings.num_threads) == ("cuda:1", 4)


def test_dump_uses_ml_agents_layout(host) -> None:
    options = resolve(
        host,
        {
            "behaviors": {
                "A": {"network_settings": {"memory": {"memory_size": 64, "sequence_length": 8}}}
            }
        },
    )
    dumped = dump_run_options(options)
    assert list(dumped) == [
        "default_settings",
        "behaviors",
        "env_settings",
        "engine_settings",
        "environment_parameters",
        "checkpoint_settings",
        "torch_settings",
        "debug",
    ]
    behavior = dumped["behaviors"]["A"]
    assert list(behavior)[:5] == [
        "trainer_type",
        "hyperparameters",
        "checkpoint_interval",
        "network_settings",
        "reward_signals",
    ]
    assert list(behavior["network_settings"])[:3] == ["normalize", "hidden_units", "num_layers"]
    assert behavior["network_settings"]["memory"] == {"memory_size": 64, "sequence_length": 8}
    assert list(behavior["reward_signals"]["extrinsic"]) == [
        "gamma",
        "strength",
        "network_settings",
    ]
    assert list(behavior["hyperparameters"]) == [f.name for f in dataclasses.fields(PPOSettings)]


def test_dump_round_trips(full_host) -> None:
    host = full_host
    options = resolve(
        host,
        {
            "behaviors": {"A": {"time_horizon": 32}},
            "environment_parameters": {"gravity": 9.8},
            "env_settings": {"env_path": "gymnasium:CartPole-v1", "num_envs": 4},
        },
    )
    assert resolve(host, dump_run_options(options)) == options


def test_custom_fields_render_their_type() -> None:
    assert isinstance(schemas.TrainerSettingsSchema._declared_fields["max_steps"], fields.Field)
    assert schemas.TrainerSettingsSchema._declared_fields["max_steps"].yaml_type == "integer"


def test_null_ml_agents_sections_need_no_plugin(host) -> None:
    # configuration.yaml writes 'self_play: null' and 'behavioral_cloning: null' as ML-Agents
    # does; reading such a file back needs neither section's plugin.
    data = {"behaviors": {"A": {"self_play": None, "behavioral_cloning": None}}}
    assert resolve(host, data).behaviors["A"].sections == {}
    with pytest.raises(ConfigError, match=r"behaviors\.A\.self_play: unknown behavior section"):
        resolve(host, {"behaviors": {"A": {"self_play": {"window": 5}}}})
