"""What :mod:`dojo.api` re-exports from the rest of dojo: the supported API of plugin authors.

A plugin imports everything from one module, ``dojo.api``: the contracts defined there and the
names below, which live elsewhere in dojo. ``dojo.api`` loads each of them on first use (a
module ``__getattr__``, PEP 562), so ``import dojo.api`` stays light: registering a plugin,
``mlagents-learn --help`` and configuration checks never import torch, and the torch-using
helpers are imported only by the code that uses them (a trainer's module, when a run builds it).

Everything listed here is part of the supported API, as are the contracts dojo.api defines.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
EXPORTS: dict[str, str] = {
    # Plugin mechanics
    "hookimpl": "dojo.hookspecs",
    "Registry": "dojo.registry",
    # Settings schemas: fields that read YAML as ML-Agents does and carry a description
    "StrictSchema": "dojo.config.fields",
    "Number": "dojo.config.fields",
    "Integer": "dojo.config.fields",
    "Boolean": "dojo.config.fields",
    "Text": "dojo.config.fields",
    "TextList": "dojo.config.fields",
    "AtLeast": "dojo.config.fields",
    "Between": "dojo.config.fields",
    "OneOf": "dojo.config.fields",
    "Check": "dojo.config.fields",
    # Settings declared once: the dataclass holds each key's field; the schema is made from it
    "setting": "dojo.config.declare",
    "settings_schema": "dojo.config.declare",
    "REQUIRED": "dojo.config.declare",
    "post_load": "marshmallow",
    "validates_schema": "marshmallow",
    "ValidationError": "marshmallow",
    # Resolved settings a component receives
    "TrainerSettings": "dojo.config.settings",
    "NetworkSettings": "dojo.config.settings",
    "RewardSignalSettings": "dojo.config.settings",
    "EnvSettings": "dojo.config.settings",
    "EngineSettings": "dojo.config.settings",
    # The environment API
    "Environment": "dojo.envs.base",
    "EnvironmentContext": "dojo.envs.context",
    "BehaviorSpec": "dojo.envs.base",
    "ObservationSpec": "dojo.envs.base",
    "ActionSpec": "dojo.envs.base",
    "ActionTuple": "dojo.envs.base",
    "DecisionSteps": "dojo.envs.base",
    "TerminalSteps": "dojo.envs.base",
    "EnvironmentStat": "dojo.envs.base",
    # Errors a plugin raises (the CLI prints their message without a traceback)
    "DojoError": "dojo.errors",
    "ConfigError": "dojo.errors",
    "PluginError": "dojo.errors",
    "EnvError": "dojo.errors",
    "DivergedError": "dojo.errors",
    # Extensions of other plugins' trainers (a behavior section's factory)
    "TrainablePolicy": "dojo.extensions",
    "TrainerAddOn": "dojo.extensions",
    "TrainerWrapper": "dojo.extensions",
    # Trainer bases and training helpers
    "OnPolicyTrainer": "dojo.training.on_policy",
    "OffPolicyTrainer": "dojo.training.off_policy",
    "decayed_value": "dojo.training.schedules",
    # The shared torch layer (imports torch)
    "Actor": "dojo.torch_layer.networks",
    "Critic": "dojo.torch_layer.networks",
    "ObservationEncoder": "dojo.torch_layer.encoders",
    "allowed_action_mask": "dojo.torch_layer.action_model",
    "GradientAdam": "dojo.torch_layer.adam",
    "clip_gradient_norm": "dojo.torch_layer.adam",
    "CheckpointLoader": "dojo.torch_layer.checkpoint",
    "save_state": "dojo.torch_layer.checkpoint",
    "export_actor": "dojo.torch_layer.onnx_export",
    # Testing a plugin in-process, without installing it
    "load_plugins": "dojo.plugin_host",
}


def load(name: str, namespace: dict[str, Any]) -> Any:
    """Import the re-exported ``name`` and keep it in ``namespace`` (``dojo.api``'s globals),
    so later look-ups do not come back here.

    Raises:
        AttributeError: ``name`` is not part of the API (what ``__getattr__`` must raise).
    """
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dojo.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value
