"""``dojo demo``: look into ML-Agents .demo files and export their steps for other tools.

- ``dojo demo info PATH``: the header of each file (API version, name, steps, episodes, mean
  reward as Unity recorded them) and what the steps hold: behavior, observation shapes, action
  spec, agents, done flags, action masks.
- ``dojo demo export PATH OUT.npz``: every step as numpy arrays in one ``.npz`` file (see
  :func:`demonstration_arrays` for the array names).

PATH is a .demo file or a folder of them (read as one demonstration, like ``demo_path`` in a
configuration). A missing or unreadable file raises :class:`DemonstrationError`, which ``dojo``
prints as one ``error:`` line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dojo.api import ObservationSpec
from dojo_imitation.demo_reader import load_demonstration, read_demo_records
from dojo_imitation.demonstration import Demonstration, DemonstrationError


def add_demo_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dojo demo`` and its actions ``info`` and ``export`` to the ``dojo`` command."""
    demo = subparsers.add_parser("demo", help="show or export ML-Agents .demo files")
    actions = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="print the header and contents of .demo files")
    info.add_argument("path", help="a .demo file or a folder of them")
    info.set_defaults(handler=run_info)
    export = actions.add_parser("export", help="write the steps of .demo files to a numpy .npz")
    export.add_argument("path", help="a .demo file or a folder of them")
    export.add_argument("out", help="the .npz file to write (replaced if it exists)")
    export.set_defaults(handler=run_export)


def run_info(args: argparse.Namespace) -> int:
    """``dojo demo info``: print :func:`describe_demonstration` of ``args.path``."""
    print(describe_demonstration(load_demonstration(args.path)))
    return 0


def run_export(args: argparse.Namespace) -> int:
    """``dojo demo export``: write :func:`demonstration_arrays` of ``args.path`` to ``args.out``."""
    demonstration = load_demonstration(args.path)
    arrays = demonstration_arrays(demonstration)
    out = Path(args.out)
    try:
        # A file object, so numpy writes exactly ``out`` (it would append .npz to a name).
        with out.open("wb") as file:
            np.savez_compressed(file, **arrays)
    except OSError as err:
        raise DemonstrationError(f"{out}: cannot write the .npz file: {err}") from err
    print(f"Wrote {demonstration.steps} steps of {demonstration.behavior_name} to {out}:")
    for name, array in arrays.items():
        print(f"  {name}: {array.dtype} {list(array.shape)}")
    return 0


def demonstration_arrays(demonstration: Demonstration) -> dict[str, np.ndarray]:
    """The arrays ``dojo demo export`` writes, one row per recorded step, in file order.

    - ``obs_0``, ``obs_1``, ...: float32 ``[steps, *shape]``, in the order of the behavior
      spec's observations (images ``[C, H, W]`` in [0, 1]);
    - ``continuous_actions`` float32 ``[steps, continuous size]``, ``discrete_actions`` int64
      ``[steps, branches]`` (width 0 when the spec has none);
    - ``rewards`` float32, ``done`` bool (the step ended its agent's episode), ``interrupted``
      bool (that end was the maximum step count), ``agent_ids`` int64: all ``[steps]``;
    - ``action_masks`` bool ``[steps, sum of branch sizes]`` (True = action disabled), only when
      the file recorded masks.

    The reward and done flag of a row are those reported with that step's observations (see
    :mod:`dojo_imitation.demonstration`).
    """
    arrays = {f"obs_{index}": obs for index, obs in enumerate(demonstration.observations)}
    arrays.update(
        continuous_actions=demonstration.continuous_actions,
        discrete_actions=demonstration.discrete_actions,
        rewards=demonstration.rewards,
        done=demonstration.dones,
        interrupted=demonstration.interrupted,
        agent_ids=demonstration.agent_ids,
    )
    if demonstration.action_masks is not None:
        arrays["action_masks"] = demonstration.action_masks
    return arrays


def describe_demonstration(demonstration: Demonstration) -> str:
    """The text of ``dojo demo info``: one header line per file, then the steps' contents."""
    lines = []
    for source in demonstration.sources:
        meta = read_demo_records(source).meta
        lines.append(
            f"file {source}: API version {meta.api_version}, name {meta.demonstration_name!r}, "
            f"{meta.number_steps} steps, {_count(meta.number_episodes, 'episode')}, mean reward "
            f"{meta.mean_reward:.6g}"
        )
    spec = demonstration.behavior_spec
    action = spec.action_spec
    branches = ", ".join(map(str, action.discrete_branches)) or "none"
    dones = int(np.count_nonzero(demonstration.dones))
    interrupted = int(np.count_nonzero(demonstration.interrupted))
    agents = len(np.unique(demonstration.agent_ids))
    masks = "none" if demonstration.action_masks is None else "recorded"
    lines += [
        f"behavior: {demonstration.behavior_name} (id {demonstration.behavior_id})",
        "observations:",
        *(f"  obs_{i}: {_describe_observation(o)}" for i, o in enumerate(spec.observation_specs)),
        f"actions: {action.continuous_size} continuous, discrete branches {branches}",
        f"steps: {demonstration.steps} (from {_count(agents, 'agent')})",
        f"episodes: {demonstration.number_episodes} "
        f"({dones} done flags, {interrupted} at the maximum step count)",
        f"mean reward: {demonstration.mean_reward:.6g}",
        f"action masks: {masks}",
    ]
    return "\n".join(lines)


def _describe_observation(observation: ObservationSpec) -> str:
    shape = list(observation.shape)
    kind = "image [channels, height, width]" if len(shape) == 3 else f"{len(shape)}-d"
    if len(shape) == 1:
        kind = "vector"
    name = f", name {observation.name!r}" if observation.name else ""
    return f"{shape} ({kind}{name})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
