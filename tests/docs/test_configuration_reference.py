"""docs/configuration.md is the generated configuration reference, and it is up to date."""

from __future__ import annotations

from pathlib import Path

import dojo_ppo.plugin
from dojo.config.explain import configuration_reference
from dojo.plugin_host import load_plugins

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "configuration.md"


def test_configuration_reference_is_up_to_date() -> None:
    # dojo's own plugins only, whatever else is installed: the page documents the repository.
    host = load_plugins(extra_plugins=(("ppo", dojo_ppo.plugin),), discover=False)
    expected = configuration_reference(host)
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is out of date with the schemas. Regenerate it with "
        "'make docs' (or '.venv/bin/dojo config reference > docs/configuration.md' in an "
        "environment with only dojo's own plugins installed) and commit the result."
    )
