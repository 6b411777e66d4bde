"""The rows of the fault-injection table and how they are printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """One kind of fault: how many of its trials passed every check."""

    group: str  # e.g. "kill", "environment", "disk", "input", "protocol"
    case: str  # what was done, e.g. "SIGKILL of PPO checkpointing every 500 steps"
    passed: int
    total: int
    detail: str = ""  # what failed, or a figure worth reading (e.g. "median 1.2 s to exit")

    @property
    def ok(self) -> bool:
        return self.passed == self.total


def markdown_table(rows: list[Row]) -> str:
    """The table as it goes in the README's reliability section."""
    lines = ["| fault | case | result | notes |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.group} | {row.case} | {row.passed}/{row.total} | {row.detail} |")
    return "\n".join(lines)
