"""The `pingshen` command line: help, argument errors, migrate and audit verify.

Run as real subprocesses against a scratch SQLite database (CLI commands own their
event loop, so they cannot run inside the test's loop).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [
    "serve",
    "migrate",
    "demo",
    "createuser",
    "sweep",
    "audit",
    "export-schema",
    "verify-draw",
]


def run_cli(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PINGSHEN_DATABASE_URL": f"sqlite://{tmp / 'cli.sqlite3'}",
        "PINGSHEN_SECRET_KEY": "cli-test-secret",
        "PINGSHEN_VAR_DIR": str(tmp),
    }
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, str(ROOT / "app.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=120,
        check=False,
    )


def test_cli_top_level_help_lists_every_command(tmp_path):
    result = run_cli("--help", tmp=tmp_path)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", [*COMMANDS, "audit verify"])
def test_cli_every_command_has_help(tmp_path, command):
    result = run_cli(*command.split(), "--help", tmp=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "usage: pingshen" in result.stdout


@pytest.mark.parametrize(
    "args",
    [["nonsense"], ["serve", "--port", "abc"], ["createuser"], ["audit"], ["sweep", "--bogus"]],
)
def test_cli_bad_arguments_give_one_line_and_exit_2(tmp_path, args):
    result = run_cli(*args, tmp=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("pingshen: ")


def test_cli_createuser_unknown_role_exits_2(tmp_path):
    result = run_cli("createuser", "alice", "--role", "emperor", "--password", "x", tmp=tmp_path)
    assert result.returncode == 2
    assert "未知角色" in result.stderr


def test_cli_migrate_is_idempotent_and_audit_verifies(tmp_path):
    first = run_cli("migrate", tmp=tmp_path)
    second = run_cli("migrate", tmp=tmp_path)
    verify = run_cli("audit", "verify", tmp=tmp_path)
    assert (first.returncode, second.returncode, verify.returncode) == (0, 0, 0)
    assert "审计链完整:共 0 个事件" in verify.stdout


def test_cli_audit_verify_names_the_first_broken_event(tmp_path):
    import sqlite3

    assert run_cli("migrate", tmp=tmp_path).returncode == 0
    db = sqlite3.connect(tmp_path / "cli.sqlite3")
    db.execute(
        "INSERT INTO audit_event (seq, created_at, actor, action, target_type, target_id,"
        " prev_hash, hash) VALUES (1, '2026-01-01T00:00:00+00:00', 'system', 'forged', 't',"
        " '1', ?, 'not-a-hash')",
        ("0" * 64,),
    )
    db.commit()
    db.close()
    result = run_cli("audit", "verify", tmp=tmp_path)
    assert result.returncode == 1
    assert "seq=1" in result.stderr
