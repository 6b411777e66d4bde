"""dojo-sac: the Soft Actor-Critic trainer plugin (``trainer_type: sac``)."""

__version__ = "0.1.0"
