"""Fully qualified behavior ids, as Unity builds send them: ``<BehaviorName>?team=<TeamId>``.

A Unity build names each behavior in ``BrainParametersProto.brain_name`` by its *fully
qualified* id: the behavior name from the Behavior Parameters component, then ``?`` and a query
string whose ``team`` key is the team id (0 unless the component sets another), e.g.
``3DBall?team=0``. ML-Agents splits the id at the last ``?``, reads ``key=value`` pairs separated
by ``&`` and uses only the part before the ``?`` for everything a user sees: the ``behaviors:``
section it looks up, ``results/<run-id>/<BehaviorName>/``, ``<BehaviorName>.onnx``, TensorBoard,
``training_status.json`` and the console. dojo does the same with :func:`parse_behavior_id`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dojo.errors import EnvError

__all__ = ["BehaviorId", "parse_behavior_id", "qualified_behavior_id"]


@dataclass(frozen=True)
class BehaviorId:
    """One fully qualified behavior id, parsed.

    Attributes:
        qualified: the id exactly as the environment sent it (``"3DBall?team=0"``).
        name: the behavior name users see (``"3DBall"``).
        team_id: the ``team`` query key as an integer (0 when absent).
        query: every query key and value as sent, ``team`` included (other keys are kept for
            plugins that need them).
    """

    qualified: str
    name: str
    team_id: int = 0
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@functools.lru_cache(maxsize=1024)
def parse_behavior_id(qualified: str) -> BehaviorId:
    """Split ``"Name?team=1&key=value"`` into the name, the team id and the query keys.

    An id without ``?`` is a bare behavior name on team 0. Cached: an environment sends the same
    few ids with every step (the result is immutable).

    Raises:
        EnvError: a query part that is not ``key=value``, or a team id that is not an integer.
    """
    name, separator, query_text = qualified.rpartition("?")
    if not separator:
        return BehaviorId(qualified, qualified)
    if not name:
        raise EnvError(f"behavior id {qualified!r} has no behavior name before '?'")
    query: dict[str, str] = {}
    for pair in query_text.split("&"):
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise EnvError(
                f"behavior id {qualified!r}: {pair!r} after '?' is not key=value (a Unity build "
                "sends '<BehaviorName>?team=<TeamId>')"
            )
        query[key] = value
    team_text = query.get("team", "0")
    try:
        team_id = int(team_text)
    except ValueError:
        raise EnvError(f"behavior id {qualified!r}: team {team_text!r} is not an integer") from None
    return BehaviorId(qualified, name, team_id, MappingProxyType(query))


def qualified_behavior_id(name: str, team_id: int = 0) -> str:
    """The id a Unity build sends for behavior ``name`` on team ``team_id``."""
    return f"{name}?team={team_id}"
