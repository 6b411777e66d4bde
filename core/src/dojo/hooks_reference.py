"""The hook reference, ``docs/hooks.md``, generated from :mod:`dojo.hookspecs`.

``dojo plugins --hooks-reference`` prints it, ``make docs`` writes it, and a test checks that
the page in the repository is what :func:`hooks_reference` gives. The page opens with the hook
module's docstring; then come the hooks in source order, under the banner comments that group
them in the module, each with its exact signature, its pluggy options and its full docstring.
Docstrings are written for Python (reST roles, Google sections); :func:`docstring_markdown`
turns them into Markdown.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from types import ModuleType
from typing import Any

_RULE = re.compile(r"#\s*-{10,}\s*")
_SECTION = re.compile(r"(Args|Arguments|Attributes|Raises|Returns|Yields|Example|Examples|Note):")
_ITEM = re.compile(r"(\*{0,2}[\w.]+)(\s*\([^)]*\))?:\s*(.*)")
_ROLE = re.compile(r":[\w:]+:`([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``", re.S)
_FENCED = re.compile(r"(^```.*?^```$)", re.S | re.M)


def _banner_titles(source: str) -> list[tuple[int, str]]:
    """``(line, title)`` of each banner comment: comment lines between two ``# ----`` rules."""
    lines = source.splitlines()
    banners = []
    index = 0
    while index < len(lines):
        if _RULE.fullmatch(lines[index]):
            end = index + 1
            while (
                end < len(lines) and lines[end].startswith("#") and not _RULE.fullmatch(lines[end])
            ):
                end += 1
            if end < len(lines) and end > index + 1 and _RULE.fullmatch(lines[end]):
                title = " ".join(line.lstrip("#").strip() for line in lines[index + 1 : end])
                banners.append((end + 1, title))
                index = end
        index += 1
    return banners


def _is_hookspec(module: ModuleType, name: str) -> bool:
    project = getattr(module, "PROJECT_NAME", "dojo")
    return hasattr(getattr(module, name, None), f"{project}_spec")


def hook_groups(module: ModuleType) -> list[tuple[str, list[ast.FunctionDef]]]:
    """The hooks of ``module`` in source order, grouped under the banner that precedes them.

    Hooks before the first banner are in a group titled ``"Hooks"``.
    """
    source = inspect.getsource(module)
    banners = _banner_titles(source)
    groups: list[tuple[str, list[ast.FunctionDef]]] = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef) or not _is_hookspec(module, node.name):
            continue
        title = next((t for line, t in reversed(banners) if line < node.lineno), "Hooks")
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(node)
    return groups


def _parameter(arg: ast.arg, default: ast.expr | None = None, prefix: str = "") -> str:
    text = prefix + arg.arg
    if arg.annotation is not None:
        text += f": {ast.unparse(arg.annotation)}"
    if default is not None:
        text += f" = {ast.unparse(default)}" if arg.annotation else f"={ast.unparse(default)}"
    return text


def hook_signature(node: ast.FunctionDef) -> str:
    """``def name(arg: Type, ...) -> Return:`` as written in the hook module (and as
    :func:`inspect.signature` prints it, without the quotes of postponed annotations)."""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    parts = [_parameter(a, d) for a, d in zip(positional, [*defaults, *args.defaults], strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(_parameter(args.vararg, prefix="*"))
    elif args.kwonlyargs:
        parts.append("*")
    parts += [_parameter(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg is not None:
        parts.append(_parameter(args.kwarg, prefix="**"))
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"def {node.name}({', '.join(parts)}){returns}:"


def _options(spec: Callable[..., Any], project: str) -> str:
    """The pluggy options a hook was declared with, as a sentence, or ``""``."""
    options = getattr(spec, f"{project}_spec", {}) or {}
    notes = []
    if options.get("firstresult"):
        notes.append("the first implementation that returns something other than `None` wins")
    if options.get("historic"):
        notes.append("historic: a plugin registered later still receives earlier calls")
    if options.get("warn_on_impl"):
        notes.append(f"deprecated: {options['warn_on_impl']}")
    return f"*Hook options: {'; '.join(notes)}.*" if notes else ""


def _inline(text: str) -> str:
    """reST inline markup to Markdown outside fenced blocks: ``code`` and :role:`target`
    become `code`."""

    def role(match: re.Match[str]) -> str:
        target = match[1]
        explicit = re.fullmatch(r"(.+?)\s*<[^>]+>", target)
        if explicit:
            target = explicit[1]
        elif target.startswith("~"):
            target = target[1:].rsplit(".", 1)[-1]
        return f"`{target}`"

    parts = _FENCED.split(text)
    for index in range(0, len(parts), 2):  # odd parts are the fenced blocks
        parts[index] = _LITERAL.sub(r"`\1`", _ROLE.sub(role, parts[index]))
    return "".join(parts)


def _literal_block(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented block from ``lines[start]`` (after ``::``) as a fenced block; next index."""
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" ")):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    code = textwrap.dedent("\n".join(lines[start:end])).strip("\n")
    language = "toml" if code.lstrip().startswith("[") else "python"
    return ["", f"```{language}", code, "```"], end


def _section(name: str, body: list[str]) -> list[str]:
    """A Google-style section (``Args:`` and its indented lines) as Markdown."""
    text = textwrap.dedent("\n".join(body)).splitlines()
    out = ["", f"**{name}:**", ""]
    if name not in ("Args", "Arguments", "Attributes", "Raises"):
        return [*out, *text]
    for line in text:
        item = None if line.startswith(" ") else _ITEM.fullmatch(line)
        if item:
            kind = f" {item[2].strip()}" if item[2] else ""
            out.append(f"- `{item[1]}`{kind}: {item[3]}".rstrip())
        elif line.strip() and out[-1].startswith(("- ", "  ")):
            out.append(f"  {line.strip()}")
        else:
            out.append(line)
    return out


def docstring_markdown(doc: str) -> str:
    """A (cleaned) docstring as Markdown: reST inline markup, ``::`` blocks, Google sections."""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        section = _SECTION.fullmatch(line)
        if section:
            end = index + 1
            while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" ")):
                end += 1
            body = lines[index + 1 : end]
            while body and not body[-1].strip():
                body.pop()
            out += _section(section[1], body)
            if end < len(lines):
                out.append("")
            index = end
            continue
        if line.rstrip().endswith("::"):
            out.append(line.rstrip()[:-1])
            block, index = _literal_block(lines, index + 1)
            out += block
            continue
        out.append(line)
        index += 1
    text = "\n".join(out).strip("\n")
    # One blank line between paragraphs; code blocks (odd parts) keep theirs, as written.
    parts = re.split(r"(```.*?```)", text, flags=re.DOTALL)
    return "".join(
        part if index % 2 else _inline(re.sub(r"\n{3,}", "\n\n", part))
        for index, part in enumerate(parts)
    )


def _anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def hooks_reference(module: ModuleType | None = None) -> str:
    """The Markdown of ``docs/hooks.md`` for ``module`` (default :mod:`dojo.hookspecs`)."""
    if module is None:
        from dojo import hookspecs as module
    project = getattr(module, "PROJECT_NAME", "dojo")
    groups = hook_groups(module)
    parts = [
        "# Hooks",
        "",
        "<!-- Generated from core/src/dojo/hookspecs.py by 'dojo plugins --hooks-reference' "
        "('make docs'): edit the hook specifications, not this page. -->",
        "",
        "Every hook dojo offers, with its exact signature, generated from "
        "`core/src/dojo/hookspecs.py`. Implement any of them in a module registered under the "
        "`dojo.plugins` entry-point group and decorate each function with `hookimpl`, imported "
        "with everything else a plugin uses from `dojo.api` (see "
        "[writing-plugins.md](writing-plugins.md) and [contracts.md](contracts.md)).",
        "",
        docstring_markdown(module.__doc__ or ""),
        "",
    ]
    for title, nodes in groups:
        parts.append(f"- [{title}](#{_anchor(title)})")
        parts += [f"  - [`{node.name}`](#{node.name})" for node in nodes]
    for title, nodes in groups:
        parts += ["", f"## {title}"]
        for node in nodes:
            spec = getattr(module, node.name)
            parts += ["", f"### `{node.name}`", "", "```python", "@hookimpl"]
            parts += [hook_signature(node), "```", ""]
            options = _options(spec, project)
            if options:
                parts += [options, ""]
            parts.append(docstring_markdown(inspect.getdoc(spec) or ""))
    return "\n".join(parts).rstrip("\n") + "\n"
