"""ML-Agents' samplers and completion measures, registered by the core as plugins."""

from __future__ import annotations

import numpy as np
import pytest
from marshmallow import ValidationError

from dojo.api import LessonProgress
from dojo.plugin_host import load_plugins


@pytest.fixture(scope="module")
def host():  # type: ignore[no-untyped-def]
    return load_plugins(discover=False)


def build(host, name: str, **parameters: object):  # type: ignore[no-untyped-def]
    entry = host.lookup("samplers", name)
    settings = entry.load_schema()().load(parameters)
    return entry.load_factory()(**settings)


def test_registered_names(host) -> None:  # type: ignore[no-untyped-def]
    assert host.registry("samplers").names() == [
        "constant",
        "gaussian",
        "multirangeuniform",
        "uniform",
    ]
    assert host.registry("curricula").names() == ["progress", "reward"]


def test_uniform_and_gaussian_draw_from_their_distributions(host) -> None:  # type: ignore[no-untyped-def]
    uniform = build(host, "uniform", min_value=2.0, max_value=3.0, seed=1)
    values = np.array([uniform.sample() for _ in range(4000)])
    assert values.min() >= 2.0 and values.max() <= 3.0
    assert abs(values.mean() - 2.5) < 0.02
    gaussian = build(host, "gaussian", mean=-1.0, st_dev=0.5, seed=1)
    values = np.array([gaussian.sample() for _ in range(4000)])
    assert abs(values.mean() + 1.0) < 0.03 and abs(values.std() - 0.5) < 0.03


def test_multirange_uniform_covers_only_its_intervals(host) -> None:  # type: ignore[no-untyped-def]
    sampler = build(host, "multirangeuniform", intervals=[[0.0, 1.0], [5.0, 8.0]], seed=2)
    values = np.array([sampler.sample() for _ in range(4000)])
    inside = ((values >= 0) & (values <= 1)) | ((values >= 5) & (values <= 8))
    assert inside.all()
    assert abs((values >= 5).mean() - 0.75) < 0.03  # chosen in proportion to width


def test_same_seed_same_values(host) -> None:  # type: ignore[no-untyped-def]
    a = build(host, "uniform", seed=7)
    b = build(host, "uniform", seed=7)
    assert [a.sample() for _ in range(5)] == [b.sample() for _ in range(5)]


def test_schema_errors_give_the_fix(host) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="swap the two bounds"):
        build(host, "uniform", min_value=3.0, max_value=1.0)
    with pytest.raises(ValidationError, match=r"\[min, max\] pairs"):
        build(host, "multirangeuniform", intervals=[[2.0, 1.0]])


def test_completion_measures(host) -> None:  # type: ignore[no-untyped-def]
    reward = host.lookup("curricula", "reward").load_factory()(behavior="B", measure="reward")
    progress = host.lookup("curricula", "progress").load_factory()(behavior="B", measure="progress")
    state = LessonProgress(step=250, max_steps=1000, episode_rewards=(1.0, 3.0))
    assert reward.measure(state) == 2.0
    assert progress.measure(state) == 0.25
    assert reward.measure(LessonProgress(0, 1000, ())) is None
