"""dojo: a plugin-based reinforcement-learning trainer that speaks ``mlagents-learn``.

The core (this package) owns the hook specifications (:mod:`dojo.hookspecs`), the plugin host
(:mod:`dojo.plugin_host`), configuration loading and validation (:mod:`dojo.config`), the
environment API (:mod:`dojo.envs`), the training loop (:mod:`dojo.training`), statistics
(:mod:`dojo.stats`) and the shared torch layer (:mod:`dojo.torch_layer`, imported lazily).
Algorithms such as PPO live in separate distributions that register themselves through the
``dojo.plugins`` entry-point group.
"""

__version__ = "0.1.0"
