"""dojo-rewards: intrinsic reward signals (``curiosity``, ``rnd``) for any dojo trainer."""

__version__ = "0.1.0"
