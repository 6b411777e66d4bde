"""Where each value of a converted configuration was written in the user's file.

Converting an old file moves its keys: the flat ``CartPole.batch_size`` becomes
``behaviors.CartPole.hyperparameters.batch_size``, a key of the flat ``default`` section is
copied under every behavior, and a derived key (PPO's ``beta_schedule`` follows
``learning_rate_schedule``) was never written at all. The converter records an :class:`Origin` for
the paths it creates; :meth:`Origins.written_problems` turns validation problems on converted
paths back into problems on the paths the user wrote, so that an error names
``CartPole.batch_size``, never a key of the converted file (nor, in any format, a key a schema
derived from the one the user wrote).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """Where one converted path came from.

    Attributes:
        written: the dotted path as written in the user's file; ``None`` when the converter
            filled the value in (a format default such as the flat format's ``threaded``).
        below: for descendants that have no origin of their own: the mapping the user wrote as
            it is (``reward_signals``, ``self_play``), so ``<converted>.x.y`` is ``<below>.x.y``.
        section: for descendants that have no origin of their own, and for a filled-in value:
            the flat section where such a key would be written (``CartPole``), so
            ``<converted>.hyperparameters.beta_schedule`` is reported as the not-written
            ``CartPole.beta_schedule``.
    """

    written: str | None
    below: str | None = None
    section: str | None = None


class Origins:
    """Converted dotted path -> :class:`Origin`; paths outside every recorded one are as written."""

    def __init__(self) -> None:
        self._by_path: dict[str, Origin] = {}

    def add(
        self,
        converted: str,
        written: str | None,
        *,
        below: str | None = None,
        section: str | None = None,
    ) -> None:
        """Record that ``converted`` holds the value written at ``written``."""
        self._by_path[converted] = Origin(written, below, section)

    def written_path(self, path: str) -> tuple[str, bool]:
        """``(path as the user wrote it, whether the user wrote that key)``.

        A key the user did not write (a default, a derived value, a missing required key under a
        converted section) is named where the user would write it, with ``False``.
        """
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            origin = self._by_path.get(".".join(parts[:end]))
            if origin is None:
                continue
            rest = parts[end:]
            if not rest and origin.written is not None:
                return origin.written, True
            if rest and origin.below is not None:
                return ".".join([origin.below, *rest]), True
            if origin.section is not None:
                return f"{origin.section}.{parts[-1]}", False
            return origin.written or path, False
        return path, True

    def written_problems(
        self, problems: list[tuple[str, str]], given: Callable[[str], bool] = lambda _path: True
    ) -> list[tuple[str, str]]:
        """Problems on converted paths as problems on the paths the user wrote.

        Args:
            problems: ``(converted dotted path, message)`` pairs.
            given: whether a converted path holds a value of the loaded file (``False`` for a
                value a schema derived, such as PPO's ``beta_schedule``).

        When one message is reported both on a key the user wrote and on keys they did not
        (a bad ``learning_rate_schedule`` also fails the ``beta_schedule`` derived from it, and a
        ``default`` key fails in every behavior it was copied to), only the written key is kept.
        """
        mapped = []
        for path, message in problems:
            written_path, written = self.written_path(path)
            mapped.append((written_path, written and given(path), message))
        written_messages = {message for _path, written, message in mapped if written}
        result: list[tuple[str, str]] = []
        for path, written, message in mapped:
            if (written or message not in written_messages) and (path, message) not in result:
                result.append((path, message))
        return result
