"""Reward signals that ship with the core."""
