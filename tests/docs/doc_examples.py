"""The examples of a Markdown guide, read as files, configurations, commands and outputs.

A guide such as ``docs/writing-plugins.md`` teaches with complete examples. This module reads
its fenced code blocks by language and by the file name the text before them gives, so that a
test can build, install and run every one of them, whatever the guide's sections are:

- ``toml`` and ``python`` blocks named by the text before them (a ``### `plugin.py` `` heading,
  a "`dojo_alive.py`:" line) are files. The files of one ``## `` section make one package: its
  ``pyproject.toml`` block (or, without one, the entry point ``name = "module"`` the section's
  text names) gives the distribution and where its modules go.
- ``python`` blocks that no text names are scripts, run once the packages are installed.
- ``yaml`` blocks are configuration files, named by the text before them or, failing that,
  after the first ``.yaml`` file that the section's next ``sh`` block uses.
- ``sh`` blocks are commands, run one line at a time; a comment ``# exit status N`` on a line
  gives the status it must end with (0 otherwise).
- Plain blocks (no language) after an ``sh`` block show what its commands print: each of their
  lines must be a line of the commands' output (``...`` stands for any text).
- ``text`` blocks show a package's layout: each file they name is a file of the section's
  package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = re.compile(r"`([\w./-]+\.(?:py|toml|yaml|yml|cfg|txt|json))`")
ENTRY_POINT = re.compile(r'`(\w+) = "([\w.]+)"`')
EXIT_STATUS = re.compile(r"#.*\bexit status (\d+)")
FILE_LANGUAGES = ("toml", "python")


@dataclass
class Block:
    """One fenced code block of the guide.

    Attributes:
        language: the fence's language (``""`` for a plain block).
        text: the block's content, ending with a newline.
        section: the title of the ``## `` section it is in.
        line: the line of its opening fence (1-based).
        name: the file that the text just before the block names, if any.
    """

    language: str
    text: str
    section: str
    line: int
    name: str | None

    @property
    def id(self) -> str:
        """``section-slug:line``, for test ids and messages."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")[:40]
        return f"{slug or 'top'}:{self.line}"


@dataclass
class Package:
    """The distribution one section builds: its folder name and files (relative path -> text)."""

    name: str
    section: str
    files: dict[str, str]


@dataclass
class Commands:
    """An ``sh`` block: its command lines with the exit status each must end with, and the
    plain blocks after it that show what they print."""

    block: Block
    lines: list[tuple[str, int]]
    outputs: list[Block] = field(default_factory=list)


@dataclass
class Guide:
    """Every block of a guide, sorted by what the tests do with it."""

    blocks: list[Block]
    packages: list[Package]
    configs: dict[str, str]
    commands: list[Commands]
    scripts: list[Block]
    layouts: list[Block]
    not_understood: list[Block]


def _named_file(prose: list[str]) -> str | None:
    """The file that the text before a block names: the last heading naming one, or else the
    last file named in the last paragraph."""
    for line in reversed(prose):
        if line.startswith("#"):
            names = FILE_NAME.findall(line)
            if names:
                return names[-1]
            break
    paragraphs = "\n".join(prose).strip().split("\n\n")
    names = FILE_NAME.findall(paragraphs[-1])
    return names[-1] if names else None


def read_blocks(path: Path) -> tuple[list[Block], dict[str, str]]:
    """The fenced blocks of the Markdown file ``path``, and each section's whole text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    sections: dict[str, list[str]] = {"": []}
    section, prose = "", []
    index = 0
    while index < len(lines):
        line = lines[index]
        sections[section].append(line)
        if line.startswith("```"):
            end = index + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            if end == len(lines):
                raise ValueError(f"{path}:{index + 1}: code block never closed")
            text = "\n".join(lines[index + 1 : end]) + "\n"
            blocks.append(Block(line[3:].strip(), text, section, index + 1, _named_file(prose)))
            sections[section].extend(lines[index + 1 : end + 1])
            prose, index = [], end + 1
            continue
        if line.startswith("## "):
            section, prose = line[3:].strip(), []
            sections[section] = [line]
        else:
            prose.append(line)
        index += 1
    return blocks, {title: "\n".join(text) for title, text in sections.items()}


def _synthesized_pyproject(section_text: str, section: str) -> str:
    """A ``pyproject.toml`` for a section that only names its entry point in its text."""
    found = ENTRY_POINT.search(section_text)
    if found is None:
        raise ValueError(f"section {section!r} has files but neither a pyproject.toml block nor "
                         'an entry point `name = "module"` in its text')  # fmt: skip
    name, module = found.groups()
    return (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'\n[project]\nname = "dojo-{name}"\nversion = "0.1.0"\n'
        f'\n[project.entry-points."dojo.plugins"]\n{name} = "{module}"\n'
        '\n[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    )


def _package(section: str, file_blocks: list[Block], section_text: str) -> Package:
    """Place a section's files as its ``pyproject.toml`` says (flat module or package)."""
    pyproject = next((b.text for b in file_blocks if b.name == "pyproject.toml"), None)
    pyproject = pyproject or _synthesized_pyproject(section_text, section)
    name = re.search(r'^name = "([^"]+)"', pyproject, re.M)
    entry = re.search(r'\[project\.entry-points\."dojo\.plugins"\]\s*\n\w+ = "([\w.]+)"', pyproject)
    if name is None or entry is None:
        raise ValueError(f"section {section!r}: pyproject.toml needs a name and an entry point")
    module = entry[1]
    package_folder = "src/" if re.search(r'^where = \["src"\]', pyproject, re.M) else ""
    package_folder += module.split(".")[0]
    files = {"pyproject.toml": pyproject}
    for block in file_blocks:
        if block.name == "pyproject.toml":
            continue
        if "." not in module and block.name == f"{module}.py":
            files[block.name] = block.text  # a one-module distribution
        else:
            files.setdefault(f"{package_folder}/__init__.py", "")
            files[f"{package_folder}/{block.name}"] = block.text
    return Package(name[1], section, files)


def _first_yaml(commands: Block | None) -> str | None:
    if commands is None:
        return None
    found = re.search(r"(\S+\.ya?ml)\b", commands.text)
    return found[1] if found else None


def read_guide(path: Path) -> Guide:
    """Read ``path`` and sort its blocks (see the module's docstring)."""
    blocks, sections = read_blocks(path)
    guide = Guide(blocks, [], {}, [], [], [], [])
    files: dict[str, list[Block]] = {}
    current: Commands | None = None
    for position, block in enumerate(blocks):
        if current is not None and current.block.section != block.section:
            current = None
        if block.language in FILE_LANGUAGES and block.name:
            files.setdefault(block.section, []).append(block)
        elif block.language == "python":
            guide.scripts.append(block)
        elif block.language in ("yaml", "yml"):
            following = next((b for b in blocks[position + 1 :] if b.language == "sh"), None)
            if following is not None and following.section != block.section:
                following = None
            name = block.name or _first_yaml(following)
            if name is None or name in guide.configs:
                guide.not_understood.append(block)  # unnamed, or two configs of one name
            else:
                guide.configs[name] = block.text
        elif block.language == "sh":
            lines = []
            for line in block.text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    status = EXIT_STATUS.search(line)
                    lines.append((line.strip(), int(status[1]) if status else 0))
            current = Commands(block, lines)
            guide.commands.append(current)
        elif block.language == "" and current is not None:
            current.outputs.append(block)
        elif block.language == "text":
            guide.layouts.append(block)
        else:
            guide.not_understood.append(block)
    guide.packages = [
        _package(section, section_files, sections[section])
        for section, section_files in files.items()
    ]
    return guide


def output_shows(shown: Block, output: str) -> list[str]:
    """The lines of ``shown`` that are not lines of ``output`` (``...`` matches any text)."""
    actual = [line.rstrip() for line in output.splitlines()]
    missing = []
    for line in shown.text.splitlines():
        if not line.strip() or line.strip() == "...":
            continue
        pattern = re.compile(".*".join(map(re.escape, line.rstrip().split("..."))))
        if not any(pattern.fullmatch(candidate) for candidate in actual):
            missing.append(line)
    return missing
