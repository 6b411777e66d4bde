"""ML-Agents' own configuration files (``/work/shared/mlagents-configs``) through dojo's loader.

- accepted/: every file whose components are installed passes ``dojo config check``; with
  stand-ins for the missing plugins every file resolves; files that need a missing plugin get
  the install hint naming its distribution.
- rejected/: files ML-Agents refuses for reasons other than their age are refused with one
  clear message; files refused only for being an older format are accepted on purpose (listed
  in ACCEPTED_ON_PURPOSE with the reason).
- old-format/: flat and 0.17 files convert, matching ML-Agents' own converter where it worked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dojo.cli.arguments import parse_learn_args
from dojo.cli.main import main as dojo_main
from dojo.config.formats import convert_to_current
from dojo.config.loader import dump_run_options, read_yaml, resolve_run_options
from dojo.errors import ConfigError

CORPUS = Path("/work/shared/mlagents-configs")
ACCEPTED = CORPUS / "accepted"
REJECTED = CORPUS / "rejected"
OLD_FORMAT = CORPUS / "old-format"
INSTALLED_TRAINERS = {"ppo"}
INSTALLED_SIGNALS = {"extrinsic"}
#: The dojo distribution that provides a component, or None where dojo does not implement it yet.
DISTRIBUTION_OF = {
    "sac": "dojo-sac",
    "poca": None,
    "curiosity": "dojo-rewards",
    "gail": None,
    "rnd": "dojo-rewards",
    "self_play": None,
    "behavioral_cloning": "dojo-imitation",
}
#: Behavior sections that plugins own (none is installed with dojo-core and dojo-ppo).
PLUGIN_SECTIONS = ("self_play", "behavioral_cloning")


def _components(path: Path) -> tuple[set[str], set[str]]:
    """(trainer types, reward signals and plugin sections) a current-format file uses."""
    data = yaml.safe_load(path.read_text()) or {}
    sections = [*(data.get("behaviors") or {}).values(), data.get("default_settings")]
    trainers, others = set(), set()
    for section in sections:
        if isinstance(section, dict):
            trainers.add(section.get("trainer_type", "ppo"))
            others.update((section.get("reward_signals") or {}).keys())
            others.update(key for key in PLUGIN_SECTIONS if section.get(key) is not None)
    return trainers, others


def read_args(yaml_path: Path) -> list[str]:
    """The extra command-line arguments a corpus file needs (its ``.args`` file)."""
    args_file = yaml_path.with_suffix(".args")
    return args_file.read_text().split() if args_file.exists() else []


def _resolve(path: Path, host, extra_args: list[str] | None = None):
    extra = read_args(path) if extra_args is None else extra_args
    args = parse_learn_args([str(path), *extra], host)
    return resolve_run_options(read_yaml(path), args.overrides, host, path.name)


ACCEPTED_FILES = sorted(ACCEPTED.glob("*.yaml"))
INSTALLED_ONLY = [
    p
    for p in ACCEPTED_FILES
    if _components(p)[0] <= INSTALLED_TRAINERS and _components(p)[1] <= INSTALLED_SIGNALS
]
NEEDS_PLUGIN = [p for p in ACCEPTED_FILES if p not in INSTALLED_ONLY]


def test_corpus_is_present() -> None:
    assert len(ACCEPTED_FILES) > 30
    assert len(INSTALLED_ONLY) >= 15


@pytest.mark.parametrize("path", INSTALLED_ONLY, ids=lambda p: p.name)
def test_accepted_file_passes_config_check(path: Path, capsys: pytest.CaptureFixture) -> None:
    assert dojo_main(["config", "check", str(path), *read_args(path)]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert set(resolved) == {
        "default_settings",
        "behaviors",
        "env_settings",
        "engine_settings",
        "environment_parameters",
        "checkpoint_settings",
        "torch_settings",
        "debug",
    }


@pytest.mark.parametrize("path", ACCEPTED_FILES, ids=lambda p: p.name)
def test_accepted_file_resolves_with_every_plugin(path: Path, full_host) -> None:
    options = _resolve(path, full_host)
    raw = yaml.safe_load(path.read_text())
    assert set(options.behaviors) == set(raw.get("behaviors") or {})


@pytest.mark.parametrize("path", NEEDS_PLUGIN, ids=lambda p: p.name)
def test_accepted_file_needing_a_missing_plugin_names_its_distribution(path: Path, host) -> None:
    trainers, signals = _components(path)
    missing = (trainers - INSTALLED_TRAINERS) | (signals - INSTALLED_SIGNALS)
    with pytest.raises(ConfigError) as caught:
        _resolve(path, host)
    message = str(caught.value)
    for name in missing:
        assert f"'{name}'" in message
        distribution = DISTRIBUTION_OF[name]
        if distribution is None:
            assert f"{name!r} (" in message and "not implemented in dojo yet" in message
        else:
            assert f"pip install {distribution}" in message
    assert "Traceback" not in message


# --------------------------------------------------------------------------------------------
# Spot checks: ML-Agents' values, defaults and default_settings
# --------------------------------------------------------------------------------------------


def test_3dball_values_and_defaults(host) -> None:
    options = _resolve(ACCEPTED / "ppo__3DBall.yaml", host)
    ball = options.behaviors["3DBall"]
    assert ball.trainer_type == "ppo"
    assert ball.hyperparameters.batch_size == 64
    assert ball.hyperparameters.buffer_size == 12000
    assert ball.hyperparameters.lambd == 0.99
    assert ball.hyperparameters.num_epoch == 3
    assert ball.hyperparameters.shared_critic is False  # default
    assert ball.network_settings.normalize is True
    assert ball.network_settings.memory is None
    assert ball.network_settings.goal_conditioning_type == "hyper"  # default
    assert ball.reward_signals["extrinsic"].gamma == 0.99
    assert ball.max_steps == 500000
    assert ball.time_horizon == 1000
    assert ball.checkpoint_interval == 500000  # default
    assert ball.keep_checkpoints == 5
    assert options.env_settings.base_port == 5005
    assert options.engine_settings.time_scale == 20.0
    assert options.checkpoint_settings.run_id == "ppo"
    assert options.torch_settings.device is None


def test_all_settings_document(full_host) -> None:
    options = _resolve(ACCEPTED / "docs__BehaviorPPO_all_settings.yaml", full_host)
    behavior = options.behaviors["BehaviorPPO"]
    hp = behavior.hyperparameters
    assert (hp.learning_rate_schedule, hp.beta_schedule, hp.epsilon_schedule) == (
        "linear",
        "constant",
        "linear",
    )
    assert behavior.network_settings.memory.memory_size == 256
    assert behavior.network_settings.memory.sequence_length == 64
    assert behavior.max_steps == 500000  # written 5.0e5
    assert behavior.checkpoint_interval == 50000
    assert behavior.init_path is None
    assert behavior.sections["behavioral_cloning"]["steps"] == 150000
    assert behavior.sections["behavioral_cloning"]["batch_size"] == 512
    assert behavior.sections["self_play"]["team_change"] == 100000
    assert behavior.sections["self_play"]["initial_elo"] == 1200.0  # default
    # deprecated encoding_size sets the signal's hidden units when network_settings is absent
    assert behavior.reward_signals["curiosity"].network_settings.hidden_units == 256
    assert behavior.reward_signals["gail"].network_settings.hidden_units == 128
    assert behavior.reward_signals["gail"].params["demo_path"].endswith("ExpertPyramid.demo")


@pytest.mark.parametrize("name", ["ppo__Pyramids.yaml", "ppo__PushBlock.yaml"])
def test_encoding_size_is_kept_in_the_resolved_configuration(name: str, full_host) -> None:
    """As ML-Agents 1.1.0's configuration.yaml: the deprecated key stays and sizes the
    signal's network."""
    raw = yaml.safe_load((ACCEPTED / name).read_text())
    [(behavior, config)] = raw["behaviors"].items()
    written = config["reward_signals"]["curiosity"]["encoding_size"]
    resolved = dump_run_options(_resolve(ACCEPTED / name, full_host))
    curiosity = resolved["behaviors"][behavior]["reward_signals"]["curiosity"]
    assert curiosity["encoding_size"] == written
    assert curiosity["network_settings"]["hidden_units"] == written


def test_default_settings_are_merged_under_behaviors(full_host) -> None:
    options = _resolve(ACCEPTED / "synthetic__default_settings.yaml", full_host)
    a, b = options.behaviors["BehaviorA"], options.behaviors["BehaviorB"]
    assert a.hyperparameters.batch_size == 128  # own
    assert a.hyperparameters.buffer_size == 4096  # from default_settings
    assert a.hyperparameters.learning_rate == 1.0e-4
    assert a.network_settings.hidden_units == 64 and a.network_settings.num_layers == 3
    assert a.network_settings.normalize is True
    assert set(a.reward_signals) == {"extrinsic", "curiosity"}
    assert a.reward_signals["extrinsic"].gamma == 0.95
    assert b.time_horizon == 128
    assert b.hyperparameters.batch_size == 256
    assert b.max_steps == 2_000_000 and b.summary_freq == 5000
    assert options.default_settings is not None
    assert options.settings_for("Unlisted") is options.default_settings


def test_cli_sections_document(host) -> None:
    options = _resolve(ACCEPTED / "docs__cli_sections.yaml", host)
    assert options.behaviors == {}
    assert options.env_settings.env_path == "FoodCollector"
    assert options.env_settings.timeout_wait == 10
    assert options.checkpoint_settings.run_id == "foodtorch"
    assert options.checkpoint_settings.force is True
    assert options.torch_settings.device == "cpu"


def test_environment_parameters_document(host) -> None:
    options = _resolve(ACCEPTED / "docs__env_parameters_filled.yaml", host)
    params = options.environment_parameters
    assert params["my_constant_parameter"] == 3.0
    assert params["mass"]["sampler_type"] == "uniform"
    assert params["length"]["sampler_parameters"]["intervals"] == [[7, 10], [15, 20]]
    lessons = params["my_environment_parameter"]["curriculum"]
    assert [lesson["name"] for lesson in lessons] == [
        "MyFirstLesson",
        "MySecondLesson",
        "MyLastLesson",
    ]
    assert lessons[1]["completion_criteria"]["require_reset"] is True
    assert lessons[0]["completion_criteria"]["require_reset"] is False  # default
    assert lessons[1]["value"]["sampler_parameters"] == {"min_value": 4.0, "max_value": 7.0}
    assert "completion_criteria" not in lessons[2]


def test_num_envs_file_needs_its_args(host) -> None:
    path = ACCEPTED / "ppo__Sorter_curriculum.yaml"
    with pytest.raises(ConfigError, match=r"env_settings\.num_envs: is 8 but env_path is not set"):
        _resolve(path, host, extra_args=[])
    assert _resolve(path, host).env_settings.env_path == "Sorter"


# --------------------------------------------------------------------------------------------
# rejected/
# --------------------------------------------------------------------------------------------

#: Refused by ML-Agents only because they are an older format (or carry the 0.17-0.19 key
#: output_path, which dojo drops with a warning); dojo converts them on purpose.
ACCEPTED_ON_PURPOSE = {
    "ppo__3DBall_randomize.yaml": "flat behavior + parameter_randomization (0.16/0.17)",
    "ppo__3DBall_randomize__upgraded.yaml": "flat behavior under behaviors: (0.16)",
    "ppo__3DBall_randomize@ff71c12.yaml": "output_path + parameter_randomization (0.17)",
    "ppo__3DBall_randomize@ff71c12__upgraded.yaml": "output_path (0.17-0.19)",
    "ppo__3DBall_randomize_exp.yaml": "output_path + parameter_randomization (0.17)",
    "ppo__3DBall_randomize_exp__upgraded.yaml": "output_path (0.17-0.19)",
    "ppo__Reacher.yaml": "output_path (0.17-0.19)",
    "ppo__SoccerTwos.yaml": "flat behavior with its own curriculum (0.16)",
    "ppo__SoccerTwos__upgraded.yaml": "flat behavior with its own curriculum (0.16)",
    "ppo__SoccerTwos@721b869.yaml": "output_path (0.17-0.19)",
    "ppo__WallJump_curriculum@721b869.yaml": "output_path + top-level curriculum (0.17)",
    "imitation__PushBlock.yaml": "output_path (0.17-0.19); needs the gail plugin",
    "sac__Basic.yaml": "output_path (0.17-0.19); needs the sac plugin",
    "sac__GridWorld.yaml": "output_path (0.17-0.19); needs the sac plugin",
    "sac__WallJump.yaml": "output_path (0.17-0.19); needs the sac plugin",
    "toplevel__gail_config.yaml": "flat file with a default section (0.16)",
    "toplevel__sac_trainer_config.yaml": "flat file with a default section (0.16)",
    "toplevel__trainer_config.yaml": "flat file with a default section (0.16)",
}

#: Refused by ML-Agents for a reason that is not the format: dojo refuses them too.
REFUSED = {
    "docs__env_parameters.yaml": "behaviors.BehaviorY: expected a mapping of trainer settings",
    "ppo__Sorter_curriculum.yaml": "env_settings.num_envs: is 8 but env_path is not set",
    "ppo__Walker.yaml": "env_settings.num_envs: is 3 but env_path is not set",
    "ppo__WallJump_curriculum.yaml": "are written as '- Lesson0:'",
    "ppo__WallJump_curriculum@721b869__upgraded.yaml": "are written as '- Lesson0:'",
    "toplevel__trainer_config+wall_jump__upgraded.yaml": "are written as '- Lesson0:'",
    "synthetic__default_settings_type_switch.yaml": "behaviors.Walker.hyperparameters.beta, "
    "behaviors.Walker.hyperparameters.epsilon: unknown key",
}

#: Refused when read: ML-Agents' offline_bc file gives sequence_length twice (16, then 32), of
#: which PyYAML silently kept the second.
DUPLICATE_KEY_FILE = "toplevel__offline_bc_config.yaml"


def test_every_rejected_file_is_classified() -> None:
    names = {p.name for p in REJECTED.glob("*.yaml")}
    assert names == set(ACCEPTED_ON_PURPOSE) | set(REFUSED) | {DUPLICATE_KEY_FILE}


def test_a_file_with_a_duplicate_key_is_refused_naming_it_and_its_lines(full_host) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(REJECTED / DUPLICATE_KEY_FILE, full_host)
    assert str(caught.value) == (
        f"{REJECTED / DUPLICATE_KEY_FILE}: line 40, column 5: invalid YAML: the key "
        "'sequence_length' is given twice in the same mapping (lines 37 and 40); only one can "
        "hold. Remove or rename one of them"
    )


@pytest.mark.parametrize("name", sorted(ACCEPTED_ON_PURPOSE))
def test_rejected_old_format_file_is_accepted_on_purpose(name: str, full_host) -> None:
    options = _resolve(REJECTED / name, full_host)
    assert options.behaviors


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_rejected_file_is_refused_with_one_clear_message(name: str, full_host) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(REJECTED / name, full_host)
    message = str(caught.value)
    assert REFUSED[name] in message
    assert message.startswith(name + ": ")
    assert len(message.splitlines()) <= 3


def test_error_in_an_inherited_key_says_it_comes_from_default_settings(full_host) -> None:
    with pytest.raises(ConfigError, match=r"inherited from default_settings\)"):
        _resolve(REJECTED / "synthetic__default_settings_type_switch.yaml", full_host)


def test_type_switch_without_sac_installed_gives_the_install_hint(host) -> None:
    with pytest.raises(ConfigError, match="pip install dojo-sac"):
        _resolve(REJECTED / "synthetic__default_settings_type_switch.yaml", host)


# --------------------------------------------------------------------------------------------
# old-format/
# --------------------------------------------------------------------------------------------

OLD_FILES = sorted(
    p
    for p in OLD_FORMAT.glob("*.yaml")
    if not p.name.endswith((".curriculum.yaml", ".sampler.yaml"))
)


@pytest.mark.parametrize(
    "path",
    [p for p in OLD_FILES if p.name != "toplevel__offline_bc_config.yaml"],
    ids=lambda p: p.name,
)
def test_old_format_file_converts(path: Path, full_host) -> None:
    """All of them, including the ones ML-Agents' own converter crashes on."""
    options = _resolve(path, full_host)
    assert options.behaviors


def test_offline_bc_is_refused_with_the_installed_trainers(host, tmp_path: Path) -> None:
    original = (OLD_FORMAT / "toplevel__offline_bc_config.yaml").read_text(encoding="utf-8")
    # without its duplicate key (sequence_length: 16 and 32), which is refused first
    path = tmp_path / "offline_bc_config.yaml"
    path.write_text(original.replace("    sequence_length: 16\n", "", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        _resolve(path, host)
    assert "unknown trainer type 'offline_bc'. Installed: ppo." in str(caught.value)


@pytest.mark.parametrize(
    ("old", "upgraded"),
    [
        ("toplevel__trainer_config", "toplevel__trainer_config__upgraded"),
        ("toplevel__gail_config", "toplevel__gail_config__upgraded"),
        ("toplevel__sac_trainer_config", "toplevel__sac_trainer_config__upgraded"),
    ],
)
def test_flat_conversion_matches_ml_agents_converter(old: str, upgraded: str, full_host) -> None:
    """Same behaviors and values as ML-Agents' upgrade_config output (accepted/)."""
    ours = dump_run_options(_resolve(OLD_FORMAT / f"{old}.yaml", full_host))["behaviors"]
    theirs = dump_run_options(_resolve(ACCEPTED / f"{upgraded}.yaml", full_host))["behaviors"]
    assert list(ours) == list(theirs)
    for name, behavior in ours.items():
        expected = theirs[name]
        if (
            behavior["hyperparameters"].get("learning_rate_schedule") == "constant"
            and "beta" in (behavior["hyperparameters"])
        ):
            # dojo: beta/epsilon schedules follow a given learning_rate_schedule (ML-Agents
            # docs); ML-Agents' converter leaves them linear.
            assert behavior["hyperparameters"]["beta_schedule"] == "constant"
            for key in ("beta_schedule", "epsilon_schedule"):
                behavior["hyperparameters"][key] = expected["hyperparameters"][key]
        # dojo: a flat file keeps the flat format's threaded: true (the seed's default);
        # ML-Agents' converter writes its 1.x default, false.
        assert behavior["threaded"] is True
        behavior["threaded"] = expected["threaded"]
        assert behavior == expected, name


def test_separate_curriculum_file_converts_to_lessons(full_host) -> None:
    raw = read_yaml(OLD_FORMAT / "toplevel__trainer_config+wall_jump.yaml")
    curriculum = read_yaml(OLD_FORMAT / "toplevel__trainer_config+wall_jump.curriculum.yaml")
    data = convert_to_current(raw, full_host, curriculum=curriculum).data
    options = resolve_run_options(data, {}, full_host, "wall_jump")
    lessons = options.environment_parameters["big_wall_min_height"]["curriculum"]
    assert [lesson["value"] for lesson in lessons] == [0.0, 4.0, 6.0, 8.0]
    assert lessons[1]["completion_criteria"]["threshold"] == 0.3
    assert lessons[1]["completion_criteria"]["behavior"] == "BigWallJump"
    assert "completion_criteria" not in lessons[3]


def test_separate_sampler_file_converts_although_ml_agents_crashes(full_host) -> None:
    raw = read_yaml(OLD_FORMAT / "toplevel__trainer_config+generalize_test.yaml")
    sampler = read_yaml(OLD_FORMAT / "toplevel__trainer_config+generalize_test.sampler.yaml")
    conversion = convert_to_current(raw, full_host, parameter_randomization=sampler)
    assert conversion.data["environment_parameters"]["mass"] == {
        "sampler_type": "uniform",
        "sampler_parameters": {"min_value": 0.5, "max_value": 10},
    }
    assert "episode-length" not in conversion.data["environment_parameters"]
    assert any("episode-length was dropped" in notice for notice in conversion.notices)


def test_soccer_flat_curriculum_and_self_play(full_host) -> None:
    options = _resolve(OLD_FORMAT / "ppo__SoccerTwos.yaml", full_host)
    soccer = options.behaviors["SoccerTwos"]
    assert soccer.max_steps == 100_000_000  # 1.0e8
    assert soccer.hyperparameters.learning_rate_schedule == "constant"
    assert soccer.network_settings.memory is None  # use_recurrent: false
    assert soccer.sections["self_play"]["swap_steps"] == 2000
    lessons = options.environment_parameters["ball_touch"]["curriculum"]
    assert [lesson["value"] for lesson in lessons] == [1.0, 0.5, 0.0]
    assert lessons[0]["completion_criteria"]["measure"] == "progress"
    assert lessons[0]["completion_criteria"]["min_lesson_length"] == 100
