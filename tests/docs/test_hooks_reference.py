"""docs/hooks.md is the hook reference generated from dojo.hookspecs, and it is up to date."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

from dojo.hooks_reference import docstring_markdown, hooks_reference
from tests.core.plugins.helpers import run_command

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "hooks.md"


def test_hooks_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == hooks_reference(), (
        "docs/hooks.md is out of date with core/src/dojo/hookspecs.py. Regenerate it with "
        "'make docs' (or '.venv/bin/dojo plugins --hooks-reference > docs/hooks.md') and commit "
        "the result."
    )


def test_dojo_plugins_prints_the_reference(tmp_path: Path) -> None:
    result = run_command("dojo", "plugins", "--hooks-reference", site=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == hooks_reference()


FAKE_HOOKSPECS = '''
    """Fake hooks.

    Intro with ``code`` and :class:`~pkg.mod.Thing`::

        [project.entry-points."fake"]
        x = "y"
    """

    from __future__ import annotations

    import pluggy

    PROJECT_NAME = "fake"
    hookspec = pluggy.HookspecMarker(PROJECT_NAME)


    @hookspec
    def fake_first(a: int) -> None:
        """Before any banner.

        Args:
            a: a number,
                on two lines.

        Returns:
            Nothing.
        """


    # ----------------------------------------------------------------------------------
    # Queries: the first answer wins
    # ----------------------------------------------------------------------------------


    @hookspec(firstresult=True)
    def fake_query(name: str, *, default: list[str] | None = None) -> str | None:
        """Answer a query.

        Raises:
            KeyError: never.
        """


    def fake_helper() -> None:
        """Not a hook."""
'''


def fake_module(tmp_path: Path) -> ModuleType:
    path = tmp_path / "fake_hookspecs.py"
    path.write_text(textwrap.dedent(FAKE_HOOKSPECS))
    spec = importlib.util.spec_from_file_location("fake_hookspecs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_any_hook_is_documented_in_its_group_with_its_signature(tmp_path: Path) -> None:
    page = hooks_reference(fake_module(tmp_path))
    assert "Intro with `code` and `Thing`:\n\n```toml\n[project.entry-points." in page
    assert "## Hooks\n\n### `fake_first`\n\n```python\n@hookimpl\n" in page
    assert "def fake_first(a: int) -> None:\n```" in page
    assert "- `a`: a number,\n  on two lines." in page
    assert "## Queries: the first answer wins\n\n### `fake_query`" in page
    assert "def fake_query(name: str, *, default: list[str] | None = None) -> str | None:" in page
    assert "*Hook options: the first implementation that returns something other than" in page
    assert "**Raises:**\n\n- `KeyError`: never." in page
    assert "fake_helper" not in page
    assert page.index("`fake_first`](#fake_first)") < page.index("`fake_query`](#fake_query)")


def test_docstring_sections_become_markdown() -> None:
    doc = """Summary.

    Args:
        registry: the host's registry (a :class:`dojo.api.Registry`).

    Returns:
        ``None``.
    """
    assert docstring_markdown(doc) == (
        "Summary.\n\n**Args:**\n\n- `registry`: the host's registry (a `dojo.api.Registry`).\n"
        "\n**Returns:**\n\n`None`."
    )
