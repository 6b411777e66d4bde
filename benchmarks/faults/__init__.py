"""Fault injection for ``benchmarks/fault_injection.py``: one module per kind of fault.

Each module has ``run(quick: bool) -> list[Row]``: it starts the real ``mlagents-learn`` (or the
real servers) under a fault, checks what a user would check afterwards, and reports one row per
case. ``quick`` trims the repetitions so that the whole table stays a few minutes long.
"""
