"""``--env`` naming a build in the current folder, as ML-Agents users write it.

``mlagents-learn --env 3DBall`` for ``./3DBall.x86_64`` (docs/unity.md's own example form),
``--env ./Player`` and ``--env Player`` start the build found relative to the current folder,
never a program of the same name on ``PATH``. A build that cannot start leaves no results.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import free_port, small_default_config

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")

# Any behavior name: the config must not depend on what the player calls its behavior.
CONFIG = small_default_config(max_steps=200)


def shell_player(folder: Path, name: str) -> Path:
    """A "build" as a user has one: an executable file that starts a player speaking the
    protocol with the arguments it gets (``--mlagents-port``, ``-logFile``, ...)."""
    path = folder / name
    path.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m dojo_unity.serve gymnasium:CartPole-v1 "$@"\n'
    )
    path.chmod(0o755)
    return path


def learn_in(cwd: Path, env: str, run_id: str) -> subprocess.CompletedProcess[str]:
    (cwd / "config.yaml").write_text(CONFIG)
    return subprocess.run(
        [
            MLAGENTS_LEARN, "config.yaml", "--env", env, "--run-id", run_id,
            "--base-port", str(free_port()), "--timeout-wait", "30", "--seed", "1",
        ],
        cwd=cwd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("file_name", "env"),
    [("Player", "./Player"), ("Player", "Player"), ("3DBall.x86_64", "3DBall")],
)
def test_build_in_the_current_folder_trains(tmp_path: Path, file_name: str, env: str) -> None:
    shell_player(tmp_path, file_name)
    result = learn_in(tmp_path, env, "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    run_dir = tmp_path / "results" / "local"
    assert list(run_dir.glob("*.onnx")), sorted(p.name for p in run_dir.iterdir())
    assert (run_dir / "run_logs" / "Player-0.log").is_file()


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_missing_build_leaves_no_results(tmp_path: Path) -> None:
    error = one_error(learn_in(tmp_path, "Missing", "missing"))
    assert "no Unity executable found" in error and "Missing.x86_64" in error
    assert not (tmp_path / "results").exists()


def test_build_that_cannot_start_leaves_no_results(tmp_path: Path) -> None:
    # Executable, but its interpreter does not exist: the exec itself fails.
    build = tmp_path / "Broken"
    build.write_text("#!/no/such/interpreter\n")
    build.chmod(0o755)
    error = one_error(learn_in(tmp_path, "Broken", "broken"))
    assert "cannot start" in error and "Broken" in error
    assert not (tmp_path / "results").exists()


def test_build_that_exits_before_connecting_leaves_no_results(tmp_path: Path) -> None:
    build = tmp_path / "Crash.x86_64"
    build.write_text("#!/bin/sh\necho 'crashing at start-up' >&2\nexit 3\n")
    build.chmod(0o755)
    error = one_error(learn_in(tmp_path, "Crash", "crash"))
    assert "exited with code 3" in error
    assert not (tmp_path / "results").exists()


def test_failed_launch_keeps_an_existing_run_folder_under_force(tmp_path: Path) -> None:
    kept = tmp_path / "results" / "kept" / "notes.txt"
    kept.parent.mkdir(parents=True)
    kept.write_text("earlier results")
    build = tmp_path / "Crash"
    build.write_text("#!/bin/sh\nexit 3\n")
    build.chmod(0o755)
    result = subprocess.run(
        [MLAGENTS_LEARN, "--env", "Crash", "--run-id", "kept", "--force",
         "--base-port", str(free_port()), "--timeout-wait", "30"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    one_error(result)
    assert kept.read_text() == "earlier results"


def test_the_log_of_a_build_that_crashed_at_start_up_is_kept(tmp_path: Path) -> None:
    """No results folder, but the player's log (the only clue why a build crashed) is moved
    aside and named."""
    build = tmp_path / "Crash.x86_64"
    build.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do [ "$1" = "-logFile" ] && echo "NullReferenceException in '
        'Awake" > "$2"; shift; done\n'
        "exit 3\n"
    )
    build.chmod(0o755)
    result = learn_in(tmp_path, "Crash", "crash")
    one_error(result)
    assert not (tmp_path / "results").exists()
    kept = [
        Path(word.rstrip("."))
        for line in (result.stdout + result.stderr).splitlines()
        if "the player's log is in" in line
        for word in line.split()
        if word.endswith(("Player-0.log", "Player-0.log."))
    ]
    assert len(kept) == 1, result.stdout + result.stderr
    assert "NullReferenceException in Awake" in kept[0].read_text()
    kept[0].unlink()
    kept[0].parent.rmdir()
