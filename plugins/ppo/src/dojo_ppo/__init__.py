"""dojo-ppo: the Proximal Policy Optimization trainer plugin for dojo."""

__version__ = "0.1.0"
