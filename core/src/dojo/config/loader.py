"""From a YAML file and the command line to validated :class:`~dojo.config.settings.RunOptions`.

The steps, in order (ML-Agents' ``RunOptions.from_argparse``):

1. :func:`read_yaml` reads the file (``yaml.safe_load``'s loader, refusing duplicate keys and
   nesting deeper than :data:`MAX_YAML_DEPTH`).
2. :func:`~dojo.config.formats.convert_to_current` converts old formats.
3. ``default_settings`` is deep-merged under every behavior.
4. Flags given explicitly on the command line override their YAML section; ``--deterministic``
   is pushed into every behavior's ``network_settings``.
5. :class:`~dojo.config.schemas.RunOptionsSchema` validates everything at once; all problems are
   raised as one :class:`~dojo.errors.ConfigError`, one ``<file>: <dotted.path>: <message>`` line
   each, the path as written in the file (an old format's keys, not the converted ones).
6. ``resume`` and ``initialize_from`` are reconciled (an explicit flag wins).

:func:`dump_run_options` writes the result back in ML-Agents' ``configuration.yaml`` layout.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from marshmallow import ValidationError

from dojo.config import formats
from dojo.config.schemas import MLAGENTS_BEHAVIOR_SECTIONS, RunOptionsSchema
from dojo.config.settings import RunOptions, TrainerSettings, to_plain
from dojo.errors import ConfigError, shorten

if TYPE_CHECKING:
    from dojo.plugin_host import PluginHost

logger = logging.getLogger("dojo.config")

#: Override section that is copied into every behavior's network_settings.
BEHAVIOR_NETWORK_SECTION = "behaviors.*.network_settings"
#: Override section of top-level keys (``debug``).
TOP_LEVEL_SECTION = ""


#: Deepest nesting of mappings and lists accepted in a configuration file. ML-Agents' deepest
#: key is 6 levels down (behaviors.B.reward_signals.gail.network_settings.memory); a limit keeps
#: a hostile file (10,000 nested '[') from exhausting Python's stack.
MAX_YAML_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigYamlLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, stricter where a silent choice would surprise a user.

    - A key given twice in one mapping is an error naming the key and both lines (PyYAML keeps
      the last one silently: a second ``behaviors:`` block replaces the first).
    - Nesting deeper than :data:`MAX_YAML_DEPTH` is an error (PyYAML recurses per level).
    - An integer too long for Python to convert is an error at its line.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"mappings and lists are nested deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: construct_mapping reports it
                if first is not key_node:
                    lines = (first.start_mark.line + 1, key_node.start_mark.line + 1)
                    where = f"lines {lines[0]} and {lines[1]}"
                    if lines[0] == lines[1]:
                        where = f"both on line {lines[0]}"
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {shorten(repr(key))} is given twice in the same mapping "
                        f"({where}); only one can hold. Remove or rename one of them",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError as err:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"the whole number {shorten(str(node.value), 20)} is too long to read",
                node.start_mark,
            ) from err


ConfigYamlLoader.add_constructor("tag:yaml.org,2002:int", ConfigYamlLoader.construct_yaml_int)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML configuration file.

    Returns:
        The top-level mapping.

    Raises:
        ConfigError: the file is missing, is a folder, is empty, is not valid YAML (the message
            gives the line and column), gives a key twice in one mapping, nests deeper than
            :data:`MAX_YAML_DEPTH` levels, or does not hold a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found.")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the path of a YAML configuration file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the file: {shorten(str(err), 300)}") from err
    try:
        data = yaml.load(text, Loader=ConfigYamlLoader)  # a SafeLoader subclass: no code runs
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        context = getattr(err, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise ConfigError(f"{path}: {where}invalid YAML: {shorten(detail, 500)}") from err
    except RecursionError as err:  # a structure the depth limit does not see (aliases)
        raise ConfigError(f"{path}: invalid YAML: the file is nested too deeply.") from err
    if data is None:
        raise ConfigError(f"{path}: the file is empty; it needs at least a 'behaviors:' section.")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections (behaviors:, env_settings:, ...) at the top "
            f"level, got a {type(data).__name__}."
        )
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base``; nested mappings merge, anything else replaces."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _apply_default_settings(data: dict[str, Any]) -> None:
    default = data.get("default_settings")
    behaviors = data.get("behaviors")
    if not isinstance(default, Mapping) or not isinstance(behaviors, Mapping):
        return
    data["behaviors"] = {
        name: deep_merge(default, config) if isinstance(config, Mapping) else config
        for name, config in behaviors.items()
    }


def _leaf_paths(value: Any, prefix: str) -> set[str]:
    if isinstance(value, Mapping):
        paths = {prefix}
        for key, item in value.items():
            paths |= _leaf_paths(item, f"{prefix}.{key}")
        return paths
    return {prefix}


def _inherited_paths(data: Mapping[str, Any]) -> set[str]:
    """Paths under ``behaviors.<name>`` that only ``default_settings`` sets."""
    default = data.get("default_settings")
    behaviors = data.get("behaviors")
    if not isinstance(default, Mapping) or not isinstance(behaviors, Mapping):
        return set()
    inherited = set()
    for name, config in behaviors.items():
        if isinstance(config, Mapping):
            own = _leaf_paths(config, f"behaviors.{name}")
            from_default = _leaf_paths(default, f"behaviors.{name}")
            inherited |= from_default - own
    return inherited


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> None:
    for section, values in overrides.items():
        if not values:
            continue
        if section == TOP_LEVEL_SECTION:
            data.update(values)
        elif section == BEHAVIOR_NETWORK_SECTION:
            patch = {"network_settings": dict(values)}
            behaviors = data.get("behaviors")
            if isinstance(behaviors, Mapping):
                data["behaviors"] = {
                    name: deep_merge(config, patch) if isinstance(config, Mapping) else config
                    for name, config in behaviors.items()
                }
            if isinstance(data.get("default_settings"), Mapping):
                data["default_settings"] = deep_merge(data["default_settings"], patch)
        else:
            current = data.get(section)
            if current is None:
                data[section] = dict(values)
            elif isinstance(current, Mapping):
                data[section] = {**current, **values}
            # else: leave the bad section for the schema to report


def _reconcile_resume(
    options: RunOptions, overrides: Mapping[str, Mapping[str, Any]]
) -> RunOptions:
    """ML-Agents' ``prioritize_resume_init``: an explicit flag wins; else resume wins."""
    checkpoint = options.checkpoint_settings
    if not (checkpoint.resume and checkpoint.initialize_from is not None):
        return options
    given = overrides.get("checkpoint_settings", {})
    if "resume" in given or "initialize_from" not in given:
        logger.warning(
            "Both resume and initialize_from=%s are set: the run is resumed and "
            "initialize_from is ignored.",
            checkpoint.initialize_from,
        )
        checkpoint = dataclasses.replace(checkpoint, initialize_from=None)
    else:
        logger.warning(
            "Both resume and initialize_from=%s are set: %s is initialized from %s and resume "
            "is ignored.",
            checkpoint.initialize_from,
            checkpoint.run_id,
            checkpoint.initialize_from,
        )
        checkpoint = dataclasses.replace(checkpoint, resume=False)
    return dataclasses.replace(options, checkpoint_settings=checkpoint)


def error_lines(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """Flatten marshmallow's nested messages into ``(dotted.path, message)`` pairs."""
    if isinstance(messages, Mapping):
        lines = []
        for key, value in messages.items():
            child = path if key == "_schema" else (f"{path}.{key}" if path else str(key))
            lines.extend(error_lines(value, child))
        return lines
    if isinstance(messages, (list, tuple)):
        lines = []
        for item in messages:
            lines.extend(error_lines(item, path))
        return lines
    return [(path or "(top level)", str(messages))]


def format_problems(
    source: str, problems: list[tuple[str, str]], from_cli: set[str] | None = None
) -> list[str]:
    """``<source>: <path>: <message>`` lines; paths with the same message share one line."""
    by_message: dict[str, list[str]] = {}
    for path, message in problems:
        path = shorten(path, 200)  # a path holds the keys as written: a key can be huge
        if from_cli and path in from_cli:
            message = f"{message} (value from the command line)"
        by_message.setdefault(message, []).append(path)
    lines = []
    for message, paths in by_message.items():
        shown = ", ".join(paths[:3])
        if len(paths) > 3:
            shown += f" (and {len(paths) - 3} more)"
        lines.append(f"{source}: {shown}: {message}")
    return lines


def _holds_value(data: Any, path: str) -> bool:
    """Whether the dotted ``path`` (list items by index) holds a value in ``data``."""
    for key in path.split("."):
        if isinstance(data, Mapping) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return False
    return True


def _overridden_paths(overrides: Mapping[str, Mapping[str, Any]]) -> set[str]:
    paths = set()
    for section, values in overrides.items():
        for key in values:
            paths.add(f"{section}.{key}" if section else key)
    return paths


def resolve_run_options(
    raw: Mapping[str, Any] | None,
    overrides: Mapping[str, Mapping[str, Any]],
    host: PluginHost,
    source: str,
) -> RunOptions:
    """Validate a loaded configuration with command-line overrides applied.

    Args:
        raw: the YAML mapping (any ML-Agents format), or ``None`` when no file was given.
        overrides: section -> {key: value} of flags given explicitly (see
            :func:`dojo.cli.arguments.parse_learn_args`); section ``""`` holds top-level keys
            and ``"behaviors.*.network_settings"`` is merged into every behavior.
        host: the plugin host (trainer types, reward signals, samplers).
        source: the file name shown in messages.

    Returns:
        The resolved, frozen :class:`RunOptions`.

    Raises:
        ConfigError: every problem found, one ``<source>: <path>: <message>`` line each.
    """
    if raw is not None and not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level.")
    conversion = formats.convert_to_current(raw or {}, host, source)
    data = conversion.data
    if conversion.source_format != formats.CURRENT:
        logger.warning(
            "%s is in %s; it was converted to the current format (see 'dojo config upgrade %s').",
            source,
            formats.FORMAT_NAMES[conversion.source_format],
            source,
        )
    inherited = _inherited_paths(data) if conversion.source_format != formats.FLAT else {}
    if conversion.source_format != formats.FLAT:
        # A flat file's 'default' was already copied (shallowly, as in ML-Agents ≤ 0.16).
        _apply_default_settings(data)
    _apply_overrides(data, overrides)
    notices = list(conversion.notices)
    try:
        options = RunOptionsSchema(host=host, notices=notices).load(data)
    except ValidationError as err:
        from_cli = _overridden_paths(overrides)
        problems = []
        for path, message in error_lines(err.messages):
            if path in inherited:
                message = f"{message} (inherited from default_settings)"
            if path in from_cli:
                message = f"{message} (value from the command line)"
            problems.append((path, message))
        # named by the keys the user wrote: an old file's, not the converted ones
        problems = conversion.origins.written_problems(
            problems, given=lambda path: _holds_value(data, path)
        )
        raise ConfigError("\n".join(format_problems(source, problems))) from err
    for notice in dict.fromkeys(notices):
        logger.warning("%s: %s", source, notice)
    return _reconcile_resume(options, overrides)


def load_run_options(
    path: str | Path | None,
    overrides: Mapping[str, Mapping[str, Any]],
    host: PluginHost,
) -> RunOptions:
    """:func:`read_yaml` + :func:`resolve_run_options` (no file: defaults and flags only)."""
    if path is None:
        return resolve_run_options(None, overrides, host, "command line")
    return resolve_run_options(read_yaml(path), overrides, host, str(path))


# --------------------------------------------------------------------------------------------
# configuration.yaml
# --------------------------------------------------------------------------------------------

#: ML-Agents 1.1.0's key order of a behavior in configuration.yaml.
_TRAINER_ORDER = (
    "trainer_type",
    "hyperparameters",
    "checkpoint_interval",
    "network_settings",
    "reward_signals",
    "init_path",
    "keep_checkpoints",
    "even_checkpoints",
    "max_steps",
    "time_horizon",
    "summary_freq",
    "threaded",
    # then the sections plugins own: ML-Agents' two always (null when absent), then the rest
)


#: ML-Agents 1.1.0's key order of network_settings.
_NETWORK_ORDER = (
    "normalize",
    "hidden_units",
    "num_layers",
    "vis_encode_type",
    "memory",
    "goal_conditioning_type",
    "deterministic",
)


def _dump_network(network: Any) -> dict[str, Any]:
    plain = to_plain(network)
    return {**{key: plain.pop(key) for key in _NETWORK_ORDER if key in plain}, **plain}


def dump_trainer_settings(trainer: TrainerSettings) -> dict[str, Any]:
    """One behavior in ML-Agents' layout; reward signals flatten their own keys."""
    plain = {key: to_plain(getattr(trainer, key)) for key in _TRAINER_ORDER}
    for name in MLAGENTS_BEHAVIOR_SECTIONS:
        plain[name] = None
    for name, section in trainer.sections.items():
        plain[name] = to_plain(section)
    plain["network_settings"] = _dump_network(trainer.network_settings)
    signals = {}
    for name, signal in trainer.reward_signals.items():
        entry = {
            "gamma": signal.gamma,
            "strength": signal.strength,
            "network_settings": _dump_network(signal.network_settings),
        }
        params = to_plain(signal.params)
        if isinstance(params, Mapping):
            entry.update(params)
        signals[name] = entry
    plain["reward_signals"] = signals
    for field in dataclasses.fields(trainer):  # fields added later by extensions
        if field.name not in plain and field.name != "sections":
            plain[field.name] = to_plain(getattr(trainer, field.name))
    return plain


def dump_run_options(options: RunOptions) -> dict[str, Any]:
    """The resolved options as plain data, in ML-Agents' ``configuration.yaml`` layout."""
    return {
        "default_settings": (
            None
            if options.default_settings is None
            else dump_trainer_settings(options.default_settings)
        ),
        "behaviors": {
            name: dump_trainer_settings(trainer) for name, trainer in options.behaviors.items()
        },
        "env_settings": to_plain(options.env_settings),
        "engine_settings": to_plain(options.engine_settings),
        "environment_parameters": to_plain(options.environment_parameters),
        "checkpoint_settings": to_plain(options.checkpoint_settings),
        "torch_settings": to_plain(options.torch_settings),
        "debug": options.debug,
    }


def dump_yaml(data: Any) -> str:
    """YAML text of plain data, keys in insertion order."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
