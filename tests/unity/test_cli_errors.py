"""``mlagents-learn --env <player>`` failures: one clear ``error:`` line and exit code 1."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from .conftest import player_script, serve_script

MLAGENTS_LEARN = str(Path(sys.executable).parent / "mlagents-learn")


def learn(tmp_path: Path, env: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            MLAGENTS_LEARN, "--env", str(env), "--base-port", str(port), "--run-id", "unity",
            "--results-dir", str(tmp_path / "results"), "--timeout-wait", "3", *extra,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def assert_one_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_wrong_api_major_version_is_refused(tmp_path: Path, port: int) -> None:
    player = serve_script(
        tmp_path, prelude="import dojo_unity.client as c; c.API_VERSION = '2.0.0'"
    )
    result = learn(tmp_path, player, port)
    assert_one_error(result, "communication API 2.0.0", "dojo speaks 1.5.0", f"port {port}")


def test_player_that_never_connects_times_out(tmp_path: Path, port: int) -> None:
    player = player_script(tmp_path, "import time; time.sleep(60)")
    result = learn(tmp_path, player, port)
    assert_one_error(result, f"worker 0 (port {port})", "within 3 s (--timeout-wait)")


def test_port_already_in_use(tmp_path: Path, port: int) -> None:
    player = serve_script(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = learn(tmp_path, player, port)
    assert_one_error(result, f"port {port}", "already in use", "--base-port")
    assert not (tmp_path / f"pid-{port}").exists()  # nothing was launched


def test_missing_executable_names_the_candidates(tmp_path: Path, port: int) -> None:
    result = learn(tmp_path, tmp_path / "NoSuchBuild", port)
    assert_one_error(result, "no Unity executable found", "NoSuchBuild.x86_64")
