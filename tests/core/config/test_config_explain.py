"""``dojo config explain`` text and the generated configuration reference."""

from __future__ import annotations

import pytest

from dojo.config.explain import configuration_reference, explain, explain_component
from dojo.errors import ConfigError, PluginError


def test_explain_ppo_lists_hyperparameters_and_behavior_keys(host) -> None:
    text = explain(host, "ppo")
    assert text.startswith("ppo: trainer type (plugin ppo, distribution dojo-ppo)")
    assert "behaviors.<name>.hyperparameters (trainer_type: ppo):" in text
    for key in ("batch_size", "lambd", "epsilon_schedule", "network_settings.memory.memory_size"):
        assert key in text
    line = next(line for line in text.splitlines() if line.strip().startswith("batch_size "))
    assert "integer" in line and "1024" in line and "[≥ 1]" in line
    assert "learning_rate_schedule if given, else linear" in text


def test_explain_reward_signal(host) -> None:
    text = explain(host, "extrinsic")
    assert "behaviors.<name>.reward_signals.extrinsic:" in text
    assert "gamma" in text and "0.99" in text


def test_explain_unknown_name(host) -> None:
    with pytest.raises(ConfigError, match=r"no installed component is called 'ppp'. Did you mean"):
        explain(host, "ppp")


def test_explain_component_of_wrong_family(host) -> None:
    with pytest.raises(PluginError, match="unknown reward signal 'ppo'"):
        explain_component(host, "reward_signals", "ppo")


def test_reference_covers_core_sections_and_components(host) -> None:
    text = configuration_reference(host)
    for heading in ("## `behaviors.<name>`", "## `env_settings`", "## trainer type `ppo`"):
        assert heading in text
    assert "| `max_steps` | integer | `500000` | ≥ 0 |" in text
