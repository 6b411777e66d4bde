"""Every code block of docs/writing-plugins.md runs: the guide's packages are installed with pip,
its configurations are used by its commands, and its outputs are what the commands print.

How blocks are read (by language and by the file name the text before them gives) is in
:mod:`tests.docs.doc_examples`; the guide's sections can change without changing this test. One
module fixture writes and ``pip install``s every example package (into a folder of its own on
``PYTHONPATH``) and writes every configuration, with ``max_steps`` cut to :data:`MAX_STEPS` so
that each documented ``mlagents-learn`` command runs as written but briefly.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.core.plugins.helpers import BIN, command_env, pip_install, write_package
from tests.docs.doc_examples import Block, Commands, Guide, output_shows, read_guide

ROOT = Path(__file__).resolve().parents[2]
GUIDE_PATH = ROOT / "docs" / "writing-plugins.md"
GUIDE: Guide = read_guide(GUIDE_PATH)
#: Training runs of the guide stop here (a few updates: the example code runs end to end).
MAX_STEPS = 2048
#: The configuration given to an ``mlagents-learn`` command of the guide that has none.
STEPS_CAP_CONFIG = "steps-cap.yaml"


def shortened(config_text: str) -> str:
    """``config_text`` with every behavior's ``max_steps`` at most :data:`MAX_STEPS`."""
    config = yaml.safe_load(config_text)
    if not isinstance(config, dict):
        return config_text
    sections = list((config.get("behaviors") or {}).values())
    sections += [config["default_settings"]] if config.get("default_settings") else []
    for settings in sections:
        if isinstance(settings, dict):
            settings["max_steps"] = min(int(settings.get("max_steps", MAX_STEPS)), MAX_STEPS)
    return yaml.safe_dump(config, sort_keys=False)


class Workspace:
    """The folder where the guide's commands run, with its packages installed in ``site``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.site = folder / "site"

    def environment(self) -> dict[str, str]:
        env = command_env(self.site, self.folder / ".cache")
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # dojo, mlagents-learn, python
        return env

    def command(self, line: str) -> str | None:
        """The shell command to run for a line of the guide, or ``None`` for one the fixture
        has done (``pip install ./<package>``: every package is installed into ``site``)."""
        words = shlex.split(line, comments=True)
        if words[:2] == ["pip", "install"]:
            folders = [w for w in words[2:] if not w.startswith("-")]
            for folder in folders:
                assert (self.folder / folder / "pyproject.toml").exists(), (
                    f"{line!r} installs {folder}, which is no package of the guide"
                )
            return None
        if words[0] == "mlagents-learn" and not any(w.endswith((".yaml", ".yml")) for w in words):
            words.insert(1, STEPS_CAP_CONFIG)  # default settings, but a short run
        return shlex.join(words)

    def run(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The guide's packages (pip-installed, in one call) and configurations, in one folder."""
    space = Workspace(tmp_path_factory.mktemp("writing-plugins"))
    sources = [write_package(space.folder / p.name, p.files) for p in GUIDE.packages]
    pip_install(space.site, *sources)
    for name, text in GUIDE.configs.items():
        (space.folder / name).write_text(shortened(text))
    (space.folder / STEPS_CAP_CONFIG).write_text(f"default_settings:\n  max_steps: {MAX_STEPS}\n")
    return space


def test_every_block_is_understood() -> None:
    assert GUIDE.not_understood == [], (
        "blocks the test cannot run (an unknown language, a yaml block whose file name neither "
        "the text before it nor the next sh block gives, or two files of one name): "
        f"{[(b.id, b.language) for b in GUIDE.not_understood]}"
    )
    assert GUIDE.packages and GUIDE.commands  # the guide was read at all


def dojo_imports(block: Block) -> list[str]:
    """The dojo modules a python block imports from."""
    modules = []
    for node in ast.walk(ast.parse(block.text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    return [m for m in modules if m == "dojo" or m.startswith("dojo.")]


@pytest.mark.parametrize(
    "block", [b for b in GUIDE.blocks if b.language == "python"], ids=lambda b: b.id
)
def test_code_imports_dojo_only_from_dojo_api(block: Block) -> None:
    assert set(dojo_imports(block)) <= {"dojo.api"}, (
        f"{GUIDE_PATH.name}:{block.line} ({block.name or 'script'}) imports "
        f"{sorted(set(dojo_imports(block)) - {'dojo.api'})}: plugin authors import from dojo.api"
    )


@pytest.mark.parametrize("layout", GUIDE.layouts, ids=lambda b: b.id)
def test_layouts_name_the_files_of_their_package(layout: Block) -> None:
    (package,) = [p for p in GUIDE.packages if p.section == layout.section]
    files = {Path(path).name for path in package.files}
    named = set(re.findall(r"[\w-]+\.(?:py|toml|yaml|cfg)\b", layout.text))
    assert named and named <= files, f"{layout.id} shows {sorted(named - files)}: not in {files}"


@pytest.mark.parametrize("commands", GUIDE.commands, ids=lambda c: c.block.id)
def test_commands_run_and_print_what_the_guide_shows(
    workspace: Workspace, commands: Commands
) -> None:
    output = ""
    for line, expected_status in commands.lines:
        command = workspace.command(line)
        if command is None:
            continue
        result = workspace.run(command)
        assert result.returncode == expected_status, (
            f"{GUIDE_PATH.name}:{commands.block.line}: {line!r} exited with {result.returncode}"
            f", not {expected_status}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        output += result.stdout + result.stderr
    for shown in commands.outputs:
        missing = output_shows(shown, output)
        assert not missing, (
            f"{GUIDE_PATH.name}:{shown.line} shows lines its commands do not print: {missing}"
            f"\n--- they print:\n{output[-5000:]}"
        )


@pytest.mark.parametrize("script", GUIDE.scripts, ids=lambda b: b.id)
def test_scripts_run(workspace: Workspace, script: Block) -> None:
    path = workspace.folder / f"script_{script.line}.py"
    path.write_text(script.text)
    result = workspace.run(shlex.join([sys.executable, str(path)]), timeout=120)
    assert result.returncode == 0, f"{GUIDE_PATH.name}:{script.line}\n{result.stderr[-3000:]}"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of the headings of ``page``."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", ["writing-plugins.md", "contracts.md", "hooks.md"])
def test_links_between_the_plugin_pages_resolve(page: str) -> None:
    docs = GUIDE_PATH.parent
    text = (docs / page).read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)  # links in code are not links
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md|)(?:#([\w-]+))?\)", text):
        linked = docs / (target or page)
        assert linked.exists(), f"{page} links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page} links to {target or page}#{anchor}"
    if page == "writing-plugins.md":
        assert "](contracts.md)" in text and "](hooks.md)" in text
