"""``evalkit dashboard``: what it starts, what it refuses, and ``hash-password``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bcrypt
import pytest
from typer.testing import CliRunner

from dashboards.auth import AUTH_ENV, hash_password
from evalkit import cli_dashboard
from evalkit.cli import app


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the streamlit command instead of running it."""
    calls: list[dict[str, Any]] = []

    def call(command: list[str], env: dict[str, str]) -> int:
        calls.append({"command": command, "env": env})
        return 0

    monkeypatch.setattr(cli_dashboard.subprocess, "call", call)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    return calls


def test_dashboard_serves_the_app_on_the_given_store_and_port(started: list[dict[str, Any]], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboard", "--home", str(tmp_path), "--port", "8765"])
    assert result.exit_code == 0, result.output
    command, env = started[0]["command"], started[0]["env"]
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]).name == "app.py"
    assert Path(command[4]).is_file()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert (options["--server.port"], options["--server.address"], options["--server.headless"]) == (
        "8765", "127.0.0.1", "true")
    assert env["EVALKIT_HOME"] == str(tmp_path.resolve()) and AUTH_ENV not in env
    assert "http://127.0.0.1:8765" in result.output and "login off" in result.output


def test_dashboard_passes_a_valid_auth_config_to_the_app(started: list[dict[str, Any]], tmp_path: Path) -> None:
    auth = tmp_path / "auth.yaml"
    auth.write_text(f"users:\n  ana: {{role: admin, password_hash: '{hash_password('pw', rounds=4)}'}}\n")
    result = CliRunner().invoke(app, ["dashboard", "--auth", str(auth), "--address", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert started[0]["env"][AUTH_ENV] == str(auth.resolve()) and "login on" in result.output
    assert "without --auth" not in result.output


def test_serving_beyond_this_machine_without_login_warns(started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["dashboard", "--address", "0.0.0.0"])
    assert "warning: serving on 0.0.0.0 without --auth" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--home", "/no/such/store"], "--home /no/such/store is not a folder"),
    (["--auth", "/no/such/auth.yaml"], "cannot read dashboard auth config /no/such/auth.yaml"),
])
def test_bad_options_are_one_line_errors_and_start_nothing(started: list[dict[str, Any]], args: list[str],
                                                           message: str) -> None:
    result = CliRunner().invoke(app, ["dashboard", *args])
    assert message in str(result.exception) and not started


def test_hash_password_prints_a_bcrypt_hash_of_the_password() -> None:
    result = CliRunner().invoke(app, ["dashboard", "hash-password", "--password-stdin"], input="correct horse\n")
    assert result.exit_code == 0, result.output
    hashed = result.output.strip()
    assert hashed.startswith("$2b$12$") and bcrypt.checkpw(b"correct horse", hashed.encode())


def test_hash_password_prompts_twice_without_stdin() -> None:
    result = CliRunner().invoke(app, ["dashboard", "hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert bcrypt.checkpw(b"s3cret", result.output.strip().splitlines()[-1].encode())
