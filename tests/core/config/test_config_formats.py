"""Old formats (flat ≤ 0.16, 0.17) are converted to the current format."""

from __future__ import annotations

import pytest

from dojo.config.formats import (
    CURRENT,
    FLAT,
    V017,
    convert_curriculum,
    convert_parameter_randomization,
    convert_to_current,
    detect_format,
)
from dojo.config.loader import resolve_run_options
from dojo.errors import ConfigError

FLAT_FILE = {
    "default": {
        "trainer": "ppo",
        "batch_size": 1024,
        "hidden_units": 128,
        "use_recurrent": False,
        "memory_size": 128,
        "sequence_length": 64,
        "max_steps": "5.0e5",
        "reward_signals": {"extrinsic": {"strength": 1.0, "gamma": 0.99}},
    },
    "Walker": {"batch_size": 2048, "num_layers": 3, "normalize": True},
    "Hallway": {"use_recurrent": True, "memory_size": 256, "batch_size": 128},
    "Striker": "Goalie",
    "Goalie": {"time_horizon": 1000, "self_play": {"play_against_current_self_ratio": 0.3}},
    "Empty": None,
    "Curious": {"reward_signals": {"curiosity": {"strength": 0.02}}},
}


def test_detect_format() -> None:
    assert detect_format(FLAT_FILE) == FLAT
    assert detect_format({"behaviors": {"A": {"trainer": "ppo", "batch_size": 3}}}) == FLAT
    assert detect_format({"behaviors": {}, "parameter_randomization": {}}) == V017
    assert detect_format({"behaviors": {"A": {"trainer_type": "ppo"}}}) == CURRENT
    assert detect_format({}) == CURRENT


def test_flat_file_conversion(host) -> None:
    conversion = convert_to_current(FLAT_FILE, host, "old.yaml")
    behaviors = conversion.data["behaviors"]
    assert behaviors["Walker"] == {
        "trainer_type": "ppo",
        "hyperparameters": {"batch_size": 2048},
        "network_settings": {"hidden_units": 128, "num_layers": 3, "normalize": True},
        "max_steps": "5.0e5",
        "reward_signals": {"extrinsic": {"strength": 1.0, "gamma": 0.99}},
    }
    assert behaviors["Hallway"]["network_settings"]["memory"] == {
        "memory_size": 256,
        "sequence_length": 64,
    }
    assert behaviors["Striker"] == behaviors["Goalie"]  # string alias
    assert behaviors["Goalie"]["self_play"] == {"play_against_latest_model_ratio": 0.3}
    assert behaviors["Empty"]["trainer_type"] == "ppo"
    # the default section is copied shallowly: reward_signals are replaced, not merged
    assert behaviors["Curious"]["reward_signals"] == {"curiosity": {"strength": 0.02}}
    assert conversion.data["default_settings"]["hyperparameters"] == {"batch_size": 1024}
    assert any("play_against_current_self_ratio was renamed" in n for n in conversion.notices)
    assert "default" in FLAT_FILE  # input untouched


def test_flat_file_resolves(host) -> None:
    data = {key: value for key, value in FLAT_FILE.items() if key != "Curious"}
    options = resolve_run_options(data, {}, host, "old.yaml")
    assert options.behaviors["Walker"].max_steps == 500000
    assert options.behaviors["Hallway"].network_settings.memory.memory_size == 256
    assert options.behaviors["Striker"].time_horizon == 1000
    assert options.settings_for("Unlisted").hyperparameters.batch_size == 1024


def test_flat_keys_unknown_to_the_trainer_are_dropped_with_a_notice(host) -> None:
    conversion = convert_to_current(
        {"default": {"trainer": "ppo", "gamma": 0.99, "bach_size": 5}}, host
    )
    assert "gamma" not in str(conversion.data["default_settings"])
    notices = " ".join(conversion.notices)
    assert "default.gamma is not a setting of trainer 'ppo' and was ignored" in notices
    assert "Did you mean 'batch_size'?" in notices


def test_flat_behavior_without_trainer_is_an_error(host) -> None:
    with pytest.raises(ConfigError, match=r"old\.yaml: A: has no 'trainer'"):
        convert_to_current({"default": {"batch_size": 3}, "A": {}}, host, "old.yaml")


def test_alias_loop_and_missing_alias(host) -> None:
    with pytest.raises(ConfigError) as caught:
        convert_to_current(
            {"default": {"trainer": "ppo"}, "A": "B", "B": "A", "C": "Nope"}, host, "old.yaml"
        )
    message = str(caught.value)
    assert "A: aliases form a loop: A -> B -> A." in message
    assert "C: reuses the section of 'Nope', which is not in the file." in message


def test_unknown_trainer_keeps_keys_for_the_install_hint(host) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_run_options({"default": {"trainer": "sac", "tau": 0.01}}, {}, host, "old.yaml")
    message = str(caught.value)
    assert "unknown trainer type 'sac'" in message
    assert "tau" not in message


def test_curriculum_conversion_makes_named_lessons() -> None:
    converted = convert_curriculum(
        {
            "BigWallJump": {
                "measure": "progress",
                "thresholds": [0.1, 0.3],
                "min_lesson_length": 100,
                "signal_smoothing": True,
                "parameters": {"height": [1.0, 2.0, 3.0]},
            }
        }
    )
    assert converted == {
        "height": {
            "curriculum": [
                {
                    "name": "Lesson0",
                    "value": 1.0,
                    "completion_criteria": {
                        "behavior": "BigWallJump",
                        "measure": "progress",
                        "threshold": 0.1,
                        "min_lesson_length": 100,
                        "signal_smoothing": True,
                    },
                },
                {
                    "name": "Lesson1",
                    "value": 2.0,
                    "completion_criteria": {
                        "behavior": "BigWallJump",
                        "measure": "progress",
                        "threshold": 0.3,
                        "min_lesson_length": 100,
                        "signal_smoothing": True,
                    },
                },
                {"name": "Lesson2", "value": 3.0},
            ]
        }
    }


def test_curriculum_with_wrong_number_of_values(host) -> None:
    raw = {
        "behaviors": {"A": {}},
        "curriculum": {"A": {"measure": "reward", "thresholds": [1], "parameters": {"p": [1]}}},
    }
    with pytest.raises(ConfigError, match=r"curriculum.A.parameters.p: needs one value per lesson"):
        convert_to_current(raw, host, "x.yaml")


def test_parameter_randomization_conversion() -> None:
    notices: list[str] = []
    converted = convert_parameter_randomization(
        {
            "resampling-interval": 5000,
            "mass": {"sampler-type": "uniform", "min_value": 0.5, "max_value": 10},
            "length": {"sampler-type": "multirange_uniform", "intervals": [[1, 2]]},
        },
        notices=notices,
    )
    assert converted == {
        "mass": {
            "sampler_type": "uniform",
            "sampler_parameters": {"min_value": 0.5, "max_value": 10},
        },
        "length": {
            "sampler_type": "multirangeuniform",
            "sampler_parameters": {"intervals": [[1, 2]]},
        },
    }
    assert "resampling-interval was dropped" in notices[0]


def test_v017_sections_become_environment_parameters(host) -> None:
    raw = {
        "behaviors": {"A": {"trainer_type": "ppo", "output_path": "default"}},
        "parameter_randomization": {
            "gravity": {"sampler-type": "gaussian", "mean": 9.8, "st_dev": 1}
        },
        "curriculum": {
            "A": {"measure": "reward", "thresholds": [0.5], "parameters": {"size": [1, 2]}}
        },
    }
    options = resolve_run_options(raw, {}, host, "v017.yaml")
    params = options.environment_parameters
    assert params["gravity"]["sampler_type"] == "gaussian"
    assert params["size"]["curriculum"][0]["completion_criteria"]["threshold"] == 0.5
    assert params["size"]["curriculum"][0]["completion_criteria"]["signal_smoothing"] is True
