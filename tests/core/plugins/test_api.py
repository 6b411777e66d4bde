"""dojo.api is the one module plugin authors import from: every name resolves, none needs torch
to import the module."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import dojo.api
from dojo.api_exports import EXPORTS


@pytest.mark.parametrize("name", dojo.api.__all__)
def test_every_name_of_the_api_resolves(name: str) -> None:
    value = getattr(dojo.api, name)
    assert value is not None
    home = EXPORTS.get(name)
    if home is not None:  # re-exported: the very object of the module the table names
        assert value is getattr(sys.modules[home], name)


def test_the_api_has_the_contracts_and_what_the_guide_uses() -> None:
    contracts = {"Trainer", "RewardSignal", "StatsWriter", "Sampler", "CompletionCriterion"}
    guide = {"hookimpl", "Registry", "StrictSchema", "Number", "Integer", "Boolean", "Text",
             "AtLeast", "Between", "OneOf", "post_load", "ActionTuple", "BehaviorSpec",
             "DecisionSteps", "TerminalSteps", "ObservationSpec", "ActionSpec", "Environment",
             "EnvironmentContext", "EnvError", "Actor", "Critic", "OnPolicyTrainer",
             "OffPolicyTrainer", "CheckpointLoader", "save_state", "export_actor",
             "allowed_action_mask", "GradientAdam", "load_plugins"}  # fmt: skip
    assert contracts | guide <= set(dojo.api.__all__)


def test_every_public_class_of_the_module_is_in_all() -> None:
    defined = {
        name
        for name, value in vars(dojo.api).items()
        if inspect.isclass(value) and value.__module__ == "dojo.api" and not name.startswith("_")
    }
    assert defined <= set(dojo.api.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'dojo\.api' has no attribute 'Trainr'"):
        dojo.api.Trainr  # noqa: B018


def test_importing_the_api_imports_no_torch() -> None:
    # What a plugin module imports at registration time, and what mlagents-learn --help loads.
    code = (
        "import sys\n"
        "import dojo.api\n"
        "from dojo.api import Registry, StrictSchema, Number, hookimpl, post_load, RewardSignal\n"
        "from dojo.api import Environment, EnvironmentContext, EnvError, OnPolicyTrainer\n"
        "print(sorted(m for m in ('torch', 'onnx', 'tensorboard') if m in sys.modules))\n"
        "from dojo.api import Actor\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "True"]  # torch only when a torch helper is used


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from dojo.api import *", namespace)
    assert set(dojo.api.__all__) <= set(namespace)
