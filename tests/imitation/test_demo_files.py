"""Reading and writing ML-Agents .demo files with the real files Unity recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dojo.api import DojoError
from dojo_imitation.demo_reader import load_demonstration, read_demo_records
from dojo_imitation.demo_writer import demo_file_bytes, write_demo_records, write_demonstration
from dojo_imitation.demonstration import DemonstrationError
from dojo_unity.communicator_objects.agent_info_action_pair_pb2 import AgentInfoActionPairProto
from dojo_unity.communicator_objects.brain_parameters_pb2 import BrainParametersProto
from dojo_unity.communicator_objects.demonstration_meta_pb2 import DemonstrationMetaProto

DEMOS = Path("/work/shared/data/mlagents-demos")
BALL, SHORT, VISUAL = (
    DEMOS / "3DBall.demo",
    DEMOS / "3DBall-short.demo",
    DEMOS / "VisualDiscrete.demo",
)


def _assert_same(a, b) -> None:
    assert (a.behavior_id, a.behavior_spec, a.steps) == (b.behavior_id, b.behavior_spec, b.steps)
    assert (a.number_episodes, a.mean_reward) == (b.number_episodes, b.mean_reward)
    for x, y in zip(a.observations, b.observations, strict=True):
        np.testing.assert_array_equal(x, y)
    for name in ("continuous_actions", "discrete_actions", "rewards", "dones", "interrupted",
                 "agent_ids"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


# ------------------------------------------------------------------------------ real files
def test_3dball_reads_as_unity_recorded_it() -> None:
    demo = load_demonstration(BALL)
    assert (demo.behavior_id, demo.behavior_name) == ("3DBall?team=0", "3DBall")
    assert (demo.steps, demo.number_episodes) == (2144, 22)
    assert demo.mean_reward == pytest.approx(read_demo_records(BALL).meta.mean_reward)
    assert [o.shape for o in demo.behavior_spec.observation_specs] == [(8,)]
    assert demo.observations[0].shape == (2144, 8)
    assert demo.behavior_spec.action_spec.continuous_size == 2
    assert demo.continuous_actions.shape == (2144, 2)
    assert demo.legacy_action_fields  # actions in vector_actions_deprecated
    assert np.abs(demo.continuous_actions).sum() > 0
    assert demo.dones.sum() == 21  # Unity counts the episode in progress at close


def test_short_3dball_has_25_steps() -> None:
    demo = load_demonstration(SHORT)
    assert (demo.behavior_name, demo.steps, demo.number_episodes) == ("3DBall", 25, 1)


def test_visual_discrete_decodes_the_png_camera() -> None:
    demo = load_demonstration(VISUAL)
    assert demo.steps == 38
    shapes = [o.shape for o in demo.behavior_spec.observation_specs]
    assert shapes == [(3, 84, 84), (0,)]
    image = demo.observations[0]
    assert image.shape == (38, 3, 84, 84) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0 and image.std() > 0
    assert demo.observations[1].shape == (38, 0)
    assert demo.behavior_spec.action_spec.discrete_branches == (3, 3, 3, 2)
    assert demo.discrete_actions.shape == (38, 4)
    # the last record holds no action (recording stopped first): zeros
    assert not demo.discrete_actions[-1].any()


def test_a_folder_reads_as_one_demonstration(tmp_path: Path) -> None:
    shutil.copy(BALL, tmp_path)
    shutil.copy(SHORT, tmp_path)
    demo = load_demonstration(tmp_path)
    assert demo.steps == 2144 + 25
    assert demo.number_episodes == 23
    assert len(demo.sources) == 2


def test_a_folder_of_different_behaviors_is_refused(tmp_path: Path) -> None:
    shutil.copy(BALL, tmp_path)
    shutil.copy(VISUAL, tmp_path)
    with pytest.raises(DemonstrationError, match="same behavior"):
        load_demonstration(tmp_path)


# ------------------------------------------------------------------------------ writing
def test_records_written_back_are_the_original_bytes() -> None:
    for path in (BALL, SHORT):
        records = read_demo_records(path)
        name = records.meta.demonstration_name
        assert demo_file_bytes(name, records.brain, records.pairs) == path.read_bytes()


def test_a_demonstration_written_back_is_the_original_bytes(tmp_path: Path) -> None:
    for path in (BALL, SHORT):
        write_demonstration(tmp_path / path.name, load_demonstration(path))
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("source", [BALL, VISUAL], ids=["vector", "visual"])
def test_write_read_round_trip(tmp_path: Path, source: Path) -> None:
    demo = load_demonstration(source)
    write_demonstration(tmp_path / "copy.demo", demo)
    _assert_same(load_demonstration(tmp_path / "copy.demo"), demo)


def _independent_read(path: Path):
    """§7 read with the generated classes only: meta at 0, brain at 33, number_steps pairs."""
    data = path.read_bytes()

    def delimited(cls, offset):
        length = shift = 0
        while True:
            byte = data[offset]
            offset += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return cls.FromString(data[offset : offset + length]), offset + length

    meta, _ = delimited(DemonstrationMetaProto, 0)
    brain, offset = delimited(BrainParametersProto, 33)
    pairs = []
    for _ in range(meta.number_steps):
        pair, offset = delimited(AgentInfoActionPairProto, offset)
        pairs.append(pair)
    return meta, brain, pairs, data[offset:]


def test_dojo_written_file_reads_with_an_independent_reader(tmp_path: Path) -> None:
    demo = load_demonstration(VISUAL)
    write_demonstration(tmp_path / "v.demo", demo)
    meta, brain, pairs, tail = _independent_read(tmp_path / "v.demo")
    assert (meta.api_version, meta.number_steps, meta.number_episodes) == (1, 38, 1)
    assert meta.demonstration_name == "bcvis"
    assert brain.brain_name == "VisualFoodCollectorLearning" and not brain.is_training
    assert tail == meta.SerializeToString()  # Unity's undelimited copy at the end
    original = read_demo_records(VISUAL).pairs
    for ours, theirs in zip(pairs, original, strict=True):
        expected = list(theirs.action_info.vector_actions_deprecated) or [0.0] * 4  # none: zeros
        assert list(ours.action_info.vector_actions_deprecated) == expected
        assert ours.agent_info.reward == theirs.agent_info.reward
        assert ours.agent_info.observations[0].compressed_data[:8] == b"\x89PNG\r\n\x1a\n"
        assert list(ours.agent_info.observations[0].shape) == [84, 84, 3]


def test_meta_counts_follow_unity(tmp_path: Path) -> None:
    records = read_demo_records(BALL)
    write_demo_records(tmp_path / "x.demo", "x", records.brain, records.pairs[:100])
    meta = _independent_read(tmp_path / "x.demo")[0]
    dones = sum(p.agent_info.done for p in records.pairs[:100])
    assert (meta.number_steps, meta.number_episodes) == (100, dones + 1)
    total = np.float32(0)
    for p in records.pairs[:100]:
        total = np.float32(total + np.float32(p.agent_info.reward))
    assert meta.mean_reward == pytest.approx(float(total / (dones + 1)))


def test_a_name_too_long_for_the_meta_region_is_refused(tmp_path: Path) -> None:
    records = read_demo_records(SHORT)
    with pytest.raises(DemonstrationError, match="too long"):
        write_demo_records(tmp_path / "x.demo", "n" * 40, records.brain, records.pairs)


# ------------------------------------------------------------------------------ errors
def _error(path: Path) -> str:
    with pytest.raises(DemonstrationError) as info:
        load_demonstration(path)
    assert isinstance(info.value, DojoError)
    message = str(info.value)
    assert str(path) in message
    return message


def test_missing_and_empty_paths(tmp_path: Path) -> None:
    assert "no such" in _error(tmp_path / "absent.demo")
    assert "no .demo files" in _error(tmp_path)
    (tmp_path / "empty.demo").write_bytes(b"")
    assert "empty" in _error(tmp_path / "empty.demo")


def test_a_truncated_file_names_the_record(tmp_path: Path) -> None:
    data = SHORT.read_bytes()
    path = tmp_path / "cut.demo"
    path.write_bytes(data[:1000])
    message = _error(path)
    assert "truncated" in message and "step record" in message and "of 25" in message
    path.write_bytes(data[:20])
    assert "truncated" in _error(path)


def test_a_corrupt_record_names_the_record(tmp_path: Path) -> None:
    records = read_demo_records(SHORT)
    data = bytearray(SHORT.read_bytes())
    brain_length = len(records.brain.SerializeToString())
    first_record = 33 + 1 + brain_length
    data[first_record + 1] = 0xFF  # the record's first tag: field 31, wire type 7 (invalid)
    path = tmp_path / "flipped.demo"
    path.write_bytes(bytes(data))
    message = _error(path)
    assert "corrupt" in message and "step record 1 of 25" in message


def test_an_unsupported_api_version(tmp_path: Path) -> None:
    records = read_demo_records(SHORT)
    data = bytearray(SHORT.read_bytes())
    assert data[1:3] == b"\x08\x01"  # api_version = 1
    data[2] = 9
    path = tmp_path / "future.demo"
    path.write_bytes(bytes(data))
    assert "api_version 9" in _error(path)
    assert records.meta.api_version == 1


def test_a_zero_step_file(tmp_path: Path) -> None:
    brain = read_demo_records(SHORT).brain
    meta = DemonstrationMetaProto(api_version=1, demonstration_name="none").SerializeToString()
    body = bytes([len(meta)]) + meta
    brain_bytes = brain.SerializeToString()
    path = tmp_path / "none.demo"
    path.write_bytes(body.ljust(33, b"\0") + bytes([len(brain_bytes)]) + brain_bytes)
    assert "records 0 steps" in _error(path)
    with pytest.raises(DemonstrationError, match="at least one step"):
        write_demo_records(tmp_path / "w.demo", "w", brain, [])
