"""``evalkit dashboard``: serve the Streamlit dashboard (``dashboards/app.py``) on a run store, and
``evalkit dashboard hash-password`` for its login file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalkit.errors import EvalkitError

dashboard_app = typer.Typer(help="Start the Streamlit dashboard on the run store.")
console = Console(stderr=True)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_path() -> Path:
    """The dashboard's Streamlit script (``dashboards/app.py`` of the installed package)."""
    import dashboards

    return Path(dashboards.__file__).resolve().parent / "app.py"


def streamlit_command(*, port: int, address: str) -> list[str]:
    """The ``streamlit run`` command line of the dashboard (headless: it prints the URL, opens no browser).

    Args:
        port: the TCP port.
        address: the address to bind (``127.0.0.1`` for local use, ``0.0.0.0`` behind a proxy).

    Returns:
        The argument list, starting with this Python interpreter.
    """
    return [sys.executable, "-m", "streamlit", "run", str(app_path()), "--server.port", str(port), "--server.address",
            address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]


def dashboard_env(home: Path | None, auth: Path | None) -> dict[str, str]:
    """The environment of the Streamlit process: the run store and the auth config, both checked first.

    Args:
        home: the run store (``None``: ``$EVALKIT_HOME``, else ``./.evalkit``, which may not exist yet).
        auth: the auth config (``None``: login off).

    Returns:
        A copy of this process's environment with ``EVALKIT_HOME`` and ``EVALKIT_DASHBOARD_AUTH`` set.

    Raises:
        EvalkitError: ``home`` is not a folder, or the auth config is invalid.
    """
    from dashboards.auth import AUTH_ENV, load_auth_config

    env = dict(os.environ)
    if home is not None:
        if not home.is_dir():
            raise EvalkitError(f"--home {home} is not a folder: give the EVALKIT_HOME that evalkit score wrote "
                               "(it holds evalkit.sqlite and runs/), or leave --home out")
        env["EVALKIT_HOME"] = str(home.resolve())
    env.pop(AUTH_ENV, None)
    if auth is not None:
        load_auth_config(auth)
        env[AUTH_ENV] = str(auth.resolve())
    return env


@dashboard_app.callback(invoke_without_command=True)
def dashboard(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="The run store (default: $EVALKIT_HOME, else ./.evalkit).")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind: 127.0.0.1 (this machine only) or 0.0.0.0.")] =
        "127.0.0.1",
    auth: Annotated[Path | None, typer.Option(envvar="EVALKIT_DASHBOARD_AUTH", help="Login file (users, bcrypt "
                                              "hashes, roles viewer/admin); without it there is no login.")] = None,
) -> None:
    """Serve the dashboard until Ctrl+C."""
    if ctx.invoked_subcommand is not None:
        return
    env = dashboard_env(home, auth)
    if address not in LOOPBACK and auth is None:
        console.print(f"warning: serving on {address} without --auth: anyone who reaches it can promote and roll "
                      "back models", markup=False)
    store = env.get("EVALKIT_HOME", str(Path(".evalkit").resolve()))
    console.print(f"evalkit dashboard on http://{address}:{port} (store {store}, login "
                  f"{'on' if auth else 'off'}); Ctrl+C stops it", markup=False, highlight=False, soft_wrap=True)
    try:
        code = subprocess.call(streamlit_command(port=port, address=address), env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@dashboard_app.command("hash-password")
def hash_password_command(
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line "
                                                 "of stdin instead of prompting.")] = False,
) -> None:
    """Print a bcrypt hash of a password, for the dashboard's login file."""
    from dashboards.auth import hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_password(password))
