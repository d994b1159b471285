"""Optional login for the dashboard: a YAML file of users, each with a bcrypt password hash and a role.

```yaml
users:
  ana:   {role: admin,  password_hash: "$2b$12$..."}   # sees promote and rollback
  viktor: {role: viewer, password_hash: "$2b$12$..."}  # read-only
```

``evalkit dashboard --auth FILE`` (or ``EVALKIT_DASHBOARD_AUTH=FILE``) turns it on; without it the dashboard is for
local use and everyone is ``admin``. ``evalkit dashboard hash-password`` makes a hash.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

import bcrypt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalkit.errors import EvalkitError
from evalkit.yamlfile import first_error, read_yaml_mapping

Role = Literal["viewer", "admin"]
AUTH_ENV = "EVALKIT_DASHBOARD_AUTH"


class AuthError(EvalkitError):
    """An auth config that cannot be read or is invalid."""


class User(BaseModel):
    """One dashboard user."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="viewer (read-only) or admin (may promote and roll back).")
    password_hash: str = Field(description="bcrypt hash, from `evalkit dashboard hash-password`.")
    name: str | None = Field(default=None, description="Display name.")

    @field_validator("password_hash")
    @classmethod
    def _is_bcrypt(cls, value: str) -> str:
        if not (value.startswith(("$2a$", "$2b$", "$2y$")) and len(value) == 60):
            raise ValueError("is not a bcrypt hash: make one with `evalkit dashboard hash-password`")
        return value


class AuthConfig(BaseModel):
    """The users who may log in."""

    model_config = ConfigDict(extra="forbid")

    users: dict[str, User] = Field(min_length=1)


def load_auth_config(path: Path) -> AuthConfig:
    """Read and validate an auth config.

    Args:
        path: the YAML file.

    Returns:
        The :class:`AuthConfig`.

    Raises:
        AuthError: the file is missing, not YAML, or invalid (the message names the field and the fix).
    """
    raw = read_yaml_mapping(path, what="dashboard auth config", error=AuthError,
                            needs="it needs users: (see examples/dashboard/auth.yaml)")
    try:
        return AuthConfig.model_validate(raw)
    except ValidationError as error:
        location, message, _ = first_error(error)
        where = ".".join(str(part) for part in location) or "top level"
        raise AuthError(f"dashboard auth config {path} is invalid at {where}: {message} (see "
                        "examples/dashboard/auth.yaml)") from None


def auth_config_path() -> Path | None:
    """The auth config named by ``EVALKIT_DASHBOARD_AUTH`` (``None``: login is off)."""
    value = os.environ.get(AUTH_ENV, "").strip()
    return Path(value) if value else None


def hash_password(password: str, *, rounds: int = 12) -> str:
    """A bcrypt hash of a password, for the auth config.

    Args:
        password: the password (at most 72 bytes in UTF-8: bcrypt ignores the rest).
        rounds: the cost factor (log2 of the iterations).

    Returns:
        The hash, e.g. ``$2b$12$...``.

    Raises:
        AuthError: the password is empty or longer than 72 bytes.
    """
    data = password.encode("utf-8")
    if not data or len(data) > 72:
        raise AuthError("a password must have 1 to 72 bytes (bcrypt's limit): choose another one")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=rounds)).decode("ascii")


@cache
def _dummy_hash() -> bytes:
    """Checked when the user name is unknown, so a wrong name takes as long as a wrong password."""
    return bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=12))


def authenticate(config: AuthConfig, username: str, password: str) -> Role | None:
    """Check a user name and password.

    Args:
        config: the users.
        username: as typed.
        password: as typed.

    Returns:
        The user's role, or ``None`` when the name is unknown or the password is wrong.
    """
    user = config.users.get(username.strip())
    data = password.encode("utf-8")[:72]
    if user is None:
        bcrypt.checkpw(data, _dummy_hash())
        return None
    return user.role if bcrypt.checkpw(data, user.password_hash.encode("ascii")) else None
