"""SIGKILL at a chosen moment: the environment that makes a command kill itself there.

A ``sitecustomize`` module put on the command's ``PYTHONPATH`` wraps ``os.unlink`` or
``os.replace`` and sends SIGKILL to its own process at the N-th call on a file whose name
matches a pattern, before that call runs: a real kill at an exact, repeatable moment of a
checkpoint (no other import of the code under test is changed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Imported by every Python process that starts with its folder on PYTHONPATH.
SITECUSTOMIZE = """
import json
import os
import re
import signal

_SPEC = os.environ.get("DOJO_TEST_KILL_AT")
if _SPEC:
    _NAME, _PATTERN, _NTH = json.loads(_SPEC)
    _REGEX = re.compile(_PATTERN)
    _CALLS = [0]
    _ORIGINAL = getattr(os, _NAME)

    def _kill_at_nth_call(*args, **kwargs):
        target = args[1] if _NAME == "replace" else args[0]
        if _REGEX.fullmatch(os.path.basename(os.fspath(target))):
            _CALLS[0] += 1
            if _CALLS[0] == int(_NTH):
                os.kill(os.getpid(), signal.SIGKILL)
        return _ORIGINAL(*args, **kwargs)

    setattr(os, _NAME, _kill_at_nth_call)
"""


def killing_env(folder: Path, function: str, pattern: str, nth: int) -> dict[str, str]:
    """The environment of a command that SIGKILLs itself just before its ``nth`` call of
    ``os.<function>`` (``"unlink"`` or ``"replace"``, whose destination is matched) on a file
    whose name fully matches ``pattern``. The hook module is written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["DOJO_TEST_KILL_AT"] = json.dumps([function, pattern, nth])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    env.pop("PYTHONWARNINGS", None)
    return env
