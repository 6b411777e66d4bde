"""The contract of sampler and completion-criterion plugins: the core builds every registered
one through its factory from the validated ``environment_parameters`` section."""

from __future__ import annotations

import pytest

from dojo.api import CompletionCriterion, LessonProgress, Sampler
from dojo.config.loader import resolve_run_options
from dojo.env_parameters.build import build_environment_parameters, derived_seed
from dojo.errors import ConfigError, PluginError
from dojo.plugin_host import load_plugins
from dojo.registry import Registry

#: Parameters a user can write for each of dojo's samplers (empty: the defaults).
WRITTEN = {
    "uniform": {"min_value": 1.0, "max_value": 2.0},
    "gaussian": {"mean": 0.0, "st_dev": 2.0},
    "multirangeuniform": {"intervals": [[0.0, 1.0], [5.0, 6.0]]},
    "constant": {"value": 3.5},
}


@pytest.fixture(scope="module")
def host():  # type: ignore[no-untyped-def]
    return load_plugins(discover=False)


def _options(host, parameters):  # type: ignore[no-untyped-def]
    return resolve_run_options({"environment_parameters": parameters}, {}, host, "test.yaml")


def test_every_registered_sampler_is_built_seeded_and_reproducible(host) -> None:  # type: ignore[no-untyped-def]
    assert sorted(WRITTEN) == host.registry("samplers").names()
    parameters = {
        name: {"sampler_type": name, "sampler_parameters": written}
        for name, written in WRITTEN.items()
    }
    options = _options(host, parameters)
    first = build_environment_parameters(host, options.environment_parameters, run_seed=3)
    again = build_environment_parameters(host, options.environment_parameters, run_seed=3)
    other = build_environment_parameters(host, options.environment_parameters, run_seed=4)
    for name in WRITTEN:
        (lesson,) = first[name].lessons
        sampler = lesson.value
        assert isinstance(sampler, Sampler), name
        assert sampler.seed == derived_seed(3, name)
        draws = [sampler.sample() for _ in range(50)]
        assert all(isinstance(value, float) for value in draws)
        assert draws == [again[name].lessons[0].value.sample() for _ in range(50)], name
        if name != "constant":
            assert draws != [other[name].lessons[0].value.sample() for _ in range(50)], name
    assert first["constant"].lessons[0].value.sample() == 3.5


def test_a_seed_written_in_the_file_is_used_as_written(host) -> None:  # type: ignore[no-untyped-def]
    written = {"sampler_type": "uniform", "sampler_parameters": {"seed": 17}}
    options = _options(host, {"x": written})
    built = build_environment_parameters(host, options.environment_parameters, run_seed=0)
    assert built["x"].lessons[0].value.seed == 17
    with pytest.raises(ConfigError, match=r"x\.sampler_parameters\.seed: expected a whole"):
        _options(host, {"x": {**written, "sampler_parameters": {"seed": "lots"}}})


def test_every_registered_measure_is_built_for_each_lesson_but_the_last(host) -> None:  # type: ignore[no-untyped-def]
    for measure in host.registry("curricula").names():
        criteria = {"behavior": "Walker", "measure": measure, "threshold": 0.5}
        lessons = [
            {"name": "one", "value": 1.0, "completion_criteria": criteria},
            {"name": "two", "value": {"sampler_type": "uniform", "sampler_parameters": {}}},
        ]
        options = _options(host, {"p": {"curriculum": lessons}})
        plan = build_environment_parameters(host, options.environment_parameters, 0)["p"]
        first, last = plan.lessons
        assert (first.name, first.value, last.completion) == ("one", 1.0, None)
        assert isinstance(last.value, Sampler)
        criterion = first.completion
        assert isinstance(criterion, CompletionCriterion)
        assert (criterion.behavior, criterion.threshold, criterion.measure_name) == (
            "Walker",
            0.5,
            measure,
        )
        progress = LessonProgress(step=250, max_steps=1000, episode_rewards=(1.0, 3.0))
        assert criterion.measure(progress) == {"progress": 0.25, "reward": 2.0}[measure]


class _WrongSampler:
    def __init__(self, **_kwargs: object) -> None:
        pass


class _WrongKind:
    from dojo.hookspecs import hookimpl

    @hookimpl
    def dojo_register_samplers(self, registry: Registry) -> None:
        registry.register("wrong", factory=_WrongSampler)


def test_a_factory_that_builds_something_else_is_a_plugin_error() -> None:
    host = load_plugins(discover=False, extra_plugins=(("wrong-kind", _WrongKind()),))
    options = _options(host, {"x": {"sampler_type": "wrong", "sampler_parameters": {}}})
    with pytest.raises(PluginError, match=r"environment_parameters\.x: sampler 'wrong' .* built a"):
        build_environment_parameters(host, options.environment_parameters, 0)
