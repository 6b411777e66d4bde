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
from dojo.config.loader import dump_run_options, resolve_run_options
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
        "threaded": True,  # the flat format's default, written out
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


def test_flat_file_resolves(full_host) -> None:
    data = {key: value for key, value in FLAT_FILE.items() if key != "Curious"}
    options = resolve_run_options(data, {}, full_host, "old.yaml")
    assert options.behaviors["Walker"].max_steps == 500000
    assert options.behaviors["Hallway"].network_settings.memory.memory_size == 256
    assert options.behaviors["Striker"].time_horizon == 1000
    assert options.settings_for("Unlisted").hyperparameters.batch_size == 1024


def test_obsolete_flat_keys_are_dropped_with_a_notice(host) -> None:
    """Keys ML-Agents ≤ 0.16 itself ignored (its own sac_trainer_config.yaml has ``gamma``)."""
    conversion = convert_to_current(
        {"default": {"trainer": "ppo", "gamma": 0.99, "num_update": 2}}, host
    )
    assert "gamma" not in str(conversion.data["default_settings"])
    assert "num_update" not in str(conversion.data["default_settings"])
    notices = " ".join(conversion.notices)
    assert "default.gamma was dropped: the discount is set per reward signal" in notices
    assert "default.num_update was dropped: it was replaced by steps_per_update" in notices


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


# --------------------------------------------------------------------------------------------
# Errors in flat files name the keys as the user wrote them (issue 15)
# --------------------------------------------------------------------------------------------


def _flat(sections: dict, nested: bool) -> tuple[dict, str]:
    """The flat sections as a whole file: top-level (ML-Agents ≤ 0.16) or under ``behaviors:``
    (the seed document's layout), and the prefix of their paths."""
    return ({"behaviors": sections}, "behaviors.") if nested else (sections, "")


def _error_lines(host, raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        resolve_run_options(raw, {}, host, "old.yaml")
    return str(caught.value).splitlines()


NESTED = pytest.mark.parametrize("nested", [False, True], ids=["top-level", "under-behaviors"])


@NESTED
@pytest.mark.parametrize("section", ["default", "CartPole"])
def test_flat_unknown_key_is_an_error_naming_it_as_written(host, nested, section) -> None:
    sections = {"default": {"trainer": "ppo", "batch_size": 1024}, "CartPole": {"beta": 0.0}}
    sections[section]["batch_sise"] = 1
    raw, prefix = _flat(sections, nested)
    [line] = _error_lines(host, raw)
    assert line.startswith(
        f"old.yaml: {prefix}{section}.batch_sise: unknown key. Did you mean 'batch_size'? "
        "Valid keys: trainer, batch_size, "
    )
    assert "hidden_units" in line and "use_recurrent" in line and "max_steps" in line


def test_flat_section_keys_of_the_current_format_are_explained(host) -> None:
    raw = {"default": {"trainer": "ppo", "hyperparameters": {"batch_size": 64}}}
    [line] = _error_lines(host, raw)
    assert line.startswith("old.yaml: default.hyperparameters: unknown key. This file is in the")
    assert "write the keys directly under the behavior" in line


@NESTED
@pytest.mark.parametrize(
    ("section", "written", "value", "message"),
    [
        (
            "default",
            "learning_rate_schedule",
            "linnear",
            "must be one of linear, constant; got 'linnear'. Did you mean 'linear'?",
        ),
        ("CartPole", "hidden_units", 0, "must be ≥ 1, got 0. Use the width of the dense layers"),
        ("default", "max_steps", "lots", "expected a whole number, got 'lots'."),
        ("CartPole", "trainer", "ppp", "unknown trainer type 'ppp'. Installed: ppo."),
        ("CartPole", "reward_signals", {"extrinsic": {"gamma": 2}}, "must be in (0.0, 1.0]"),
        ("CartPole", "self_play", {"play_against_current_self_ratio": 2}, "must be in [0.0, 1.0]"),
    ],
    ids=["derived-key", "network-key", "behavior-key", "trainer", "reward-signal", "renamed-key"],
)
def test_flat_value_error_names_the_key_as_written(
    host, full_host, nested, section, written, value, message
) -> None:
    if written == "self_play":  # a section of a plugin: its stand-in validates it
        host = full_host
    sections = {"default": {"trainer": "ppo", "batch_size": 1024}, "CartPole": {"beta": 0.0}}
    sections[section][written] = value
    raw, prefix = _flat(sections, nested)
    [line] = _error_lines(host, raw)
    path = {
        "reward_signals": "reward_signals.extrinsic.gamma",
        "self_play": "self_play.play_against_current_self_ratio",
    }.get(written, written)
    assert line.startswith(f"old.yaml: {prefix}{section}.{path}: {message}")
    for converted in ("default_settings", "hyperparameters", "network_settings", "beta_schedule"):
        assert converted not in line


def test_flat_memory_errors_name_the_flat_keys(host) -> None:
    raw = {
        "default": {"trainer": "ppo", "batch_size": 32},
        "Hallway": {"use_recurrent": True, "memory_size": 7, "sequence_length": 64},
    }
    lines = _error_lines(host, raw)
    assert len(lines) == 1
    assert lines[0].startswith("old.yaml: Hallway.memory_size: must be even")


def test_flat_alias_errors_name_the_section_that_holds_the_key(host) -> None:
    raw = {"default": {"trainer": "ppo"}, "Striker": "Goalie", "Goalie": {"time_horizon": 0}}
    [line] = _error_lines(host, raw)
    assert line.startswith("old.yaml: Goalie.time_horizon: must be ≥ 1, got 0.")


def test_flat_error_through_the_command_line_is_one_line_per_problem(
    tmp_path, capsys: pytest.CaptureFixture
) -> None:
    from dojo.cli.main import main as dojo_main

    path = tmp_path / "seed.yaml"
    path.write_text(
        "default:\n  trainer: ppo\n  learning_rate_schedule: linnear\nCartPole:\n  batch_sise: 1\n",
        encoding="utf-8",
    )
    assert dojo_main(["config", "check", str(path)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "WARNING" not in line]
    assert errors[0].startswith(f"error: {path}: CartPole.batch_sise: unknown key.")
    assert len(errors) == 1  # conversion problems are reported before the schema runs


# --------------------------------------------------------------------------------------------
# The seed's own layout: flat sections under behaviors:, threaded by default (issue 15)
# --------------------------------------------------------------------------------------------


def test_flat_sections_under_behaviors_with_a_default_resolve(host) -> None:
    """The seed document's shape: a flat ``default`` behavior plus sections overriding a few
    keys (no ``trainer``) under ``behaviors:``."""
    raw = {
        "behaviors": {
            "default": {
                "trainer": "ppo",
                "batch_size": 1024,
                "beta": 5.0e-3,
                "hidden_units": 128,
                "max_steps": "5.0e5",
                "reward_signals": {"extrinsic": {"strength": 1.0, "gamma": 0.99}},
            },
            "CartPole": {"batch_size": 256, "hidden_units": 64},
        }
    }
    assert detect_format(raw) == FLAT
    options = resolve_run_options(raw, {}, host, "seed.yaml")
    assert set(options.behaviors) == {"CartPole"}
    cartpole = options.behaviors["CartPole"]
    assert cartpole.hyperparameters.batch_size == 256
    assert cartpole.hyperparameters.beta == 5.0e-3
    assert cartpole.network_settings.hidden_units == 64
    assert cartpole.max_steps == 500000
    assert options.settings_for("Unlisted").hyperparameters.batch_size == 1024


@NESTED
def test_flat_files_are_threaded_unless_they_say_otherwise(host, nested) -> None:
    """The seed: ``threaded`` defaults to true; the current format keeps ML-Agents 1.x's false."""
    sections = {"default": {"trainer": "ppo"}, "CartPole": {}, "Walker": {"threaded": False}}
    raw, _prefix = _flat(sections, nested)
    options = resolve_run_options(raw, {}, host, "old.yaml")
    assert options.behaviors["CartPole"].threaded is True
    assert options.behaviors["Walker"].threaded is False
    assert options.default_settings.threaded is True
    resolved = dump_run_options(options)
    assert resolved["behaviors"]["CartPole"]["threaded"] is True
    assert resolved["default_settings"]["threaded"] is True
    upgraded = convert_to_current(raw, host).data  # what 'dojo config upgrade' prints
    assert upgraded["behaviors"]["CartPole"]["threaded"] is True
    current = resolve_run_options({"behaviors": {"CartPole": {}}}, {}, host, "new.yaml")
    assert current.behaviors["CartPole"].threaded is False


def test_flat_file_with_a_current_format_default_settings_is_refused(host) -> None:
    raw = {"behaviors": {"CartPole": {"trainer": "ppo"}}, "default_settings": {"max_steps": 10}}
    [line] = _error_lines(host, raw)
    assert line.startswith("old.yaml: default_settings: is a section of the current format")
    assert "write the defaults as a flat 'default' section" in line


def test_conversion_leaves_the_loaded_yaml_as_it_was() -> None:
    """A caller may read its mapping again (e.g. to report it): converting must not edit it."""
    import copy

    from dojo.config.formats import convert_to_current

    raw = {
        "behaviors": {
            "CartPole": {
                "trainer_type": "ppo",
                "curriculum": {
                    "measure": "reward",
                    "thresholds": [1.0],
                    "parameters": {"x": [0, 1]},
                },
            }
        }
    }
    before = copy.deepcopy(raw)
    convert_to_current(raw, None)
    assert raw == before
