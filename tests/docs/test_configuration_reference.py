"""docs/configuration.md is the generated configuration reference, and it is up to date."""

from __future__ import annotations

from pathlib import Path

import dojo_imitation.plugin
import dojo_ppo.plugin
import dojo_rewards.plugin
import dojo_sac.plugin
import dojo_unity.plugin
from dojo.config.explain import configuration_reference
from dojo.plugin_host import load_plugins

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"


def test_configuration_reference_is_up_to_date() -> None:
    # dojo's own plugins only, whatever else is installed: the page documents the repository.
    own = {
        "imitation": dojo_imitation.plugin,
        "ppo": dojo_ppo.plugin,
        "rewards": dojo_rewards.plugin,
        "sac": dojo_sac.plugin,
        "unity": dojo_unity.plugin,
    }
    host = load_plugins(extra_plugins=tuple(own.items()), discover=False)
    expected = configuration_reference(host)
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is out of date with the schemas. Regenerate it with "
        "'make docs' (in an environment with only dojo's own plugins installed) and commit "
        "the result."
    )
