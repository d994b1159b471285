"""Login and roles: with an auth config only the login form is served; a wrong password is refused; a viewer sees no
promote or rollback; an admin promotes and rolls back (after confirming) through the same functions as the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from dashboards.actions import NotAllowedError, rollback_alias
from dashboards.auth import AuthError, authenticate, hash_password, load_auth_config
from evalkit.gate.history import gates_dir
from tests.dashboard_store import SeededStore, seed_store
from tuner.registry import aliases, history

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
PASSWORDS = {"ana": "admin-pass-1", "viktor": "viewer-pass-1"}


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An auth config with an admin (ana) and a viewer (viktor); cost 4 keeps the tests fast."""
    users = {"ana": {"role": "admin", "password_hash": hash_password(PASSWORDS["ana"], rounds=4)},
             "viktor": {"role": "viewer", "password_hash": hash_password(PASSWORDS["viktor"], rounds=4)}}
    path = tmp_path_factory.mktemp("auth") / "auth.yaml"
    path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path, auth_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededStore]:
    """A fresh seeded store per test (the admin tests move aliases), served with login on."""
    seeded = seed_store(tmp_path / "home")
    monkeypatch.setenv("EVALKIT_HOME", str(seeded.home))
    monkeypatch.setenv("EVALKIT_DASHBOARD_AUTH", str(auth_file))
    yield seeded


def log_in(username: str, password: str) -> AppTest:
    """Open the app and submit the login form."""
    app = AppTest.from_file(str(APP), default_timeout=90).run()
    app.text_input(key="login_username").input(username)
    app.text_input(key="login_password").input(password)
    app.button[0].click().run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def test_with_login_on_only_the_form_is_served(store: SeededStore) -> None:
    app = AppTest.from_file(str(APP), default_timeout=90).run()
    assert [field.label for field in app.text_input] == ["User name", "Password"]
    assert not app.metric and not app.dataframe and [title.value for title in app.title] == ["evalkit dashboard"]


def test_a_wrong_password_is_refused(store: SeededStore) -> None:
    app = log_in("ana", "not-her-password")
    assert [error.value for error in app.error] == ["Wrong user name or password."]
    assert not app.metric
    unknown = log_in("mallory", PASSWORDS["ana"])
    assert [error.value for error in unknown.error] == ["Wrong user name or password."]


def test_a_viewer_sees_the_registry_but_not_promote_or_rollback(store: SeededStore) -> None:
    app = log_in("viktor", PASSWORDS["viktor"])
    assert app.metric[0].value == store.versions["v2"]  # the overview, signed in
    app.switch_page("views/registry.py").run()
    assert "Promote and rollback need the admin role." in [caption.value for caption in app.caption]
    assert not [button for button in app.button if button.label in ("Promote…", "Roll back…", "Confirm")]
    assert "Signed in as **viktor** (viewer)" in [caption.value for caption in app.sidebar.caption]


def test_an_admin_rolls_back_after_confirming_and_promotes_through_the_gate(store: SeededStore) -> None:
    app = log_in("ana", PASSWORDS["ana"])
    app.switch_page("views/registry.py").run()
    app.text_input(key="rollback_reason").input("latency regression")
    next(button for button in app.button if button.label == "Roll back…").click().run()
    assert aliases()["production"] == store.versions["v2"], "nothing moves before Confirm"
    app.button(key="registry_confirm").click().run()
    assert aliases()["production"] == store.versions["v1"]
    assert f"production: {store.versions['v2']} -> {store.versions['v1']} (rollback)" in [
        message.value for message in app.success]
    assert history("production")[-1].reason == "latency regression"

    gates_before = set(gates_dir().glob("*.json"))
    app.selectbox(key="promote_version").set_value(store.versions["v2"])
    app.selectbox(key="promote_policy").set_value(str(store.policy))
    next(button for button in app.button if button.label == "Promote…").click().run()
    app.button(key="registry_confirm").click().run()
    assert not app.exception, [item.value for item in app.exception]
    assert aliases()["production"] == store.versions["v2"]
    new_gate = (set(gates_dir().glob("*.json")) - gates_before).pop().stem
    assert history("production")[-1].gate_id == new_gate and history("production")[-1].action == "promote"
    assert any(new_gate in caption.value for caption in app.caption)


def test_cancel_leaves_the_alias_where_it_was(store: SeededStore) -> None:
    app = log_in("ana", PASSWORDS["ana"])
    app.switch_page("views/registry.py").run()
    next(button for button in app.button if button.label == "Roll back…").click().run()
    app.button(key="registry_cancel").click().run()
    assert aliases()["production"] == store.versions["v2"] and not app.warning


def test_actions_refuse_a_session_that_is_not_admin(store: SeededStore) -> None:
    # Login is on and nobody signed in: the action itself refuses, whatever a page shows.
    with pytest.raises(NotAllowedError, match="admin role"):
        rollback_alias("production", reason="should not happen")
    assert aliases()["production"] == store.versions["v2"]


def test_passwords_are_checked_against_bcrypt_hashes(auth_file: Path) -> None:
    config = load_auth_config(auth_file)
    assert authenticate(config, "ana", PASSWORDS["ana"]) == "admin"
    assert authenticate(config, " viktor ", PASSWORDS["viktor"]) == "viewer"
    assert authenticate(config, "viktor", PASSWORDS["ana"]) is None
    assert PASSWORDS["ana"] not in auth_file.read_text()


@pytest.mark.parametrize(("users", "message"), [
    ({"ana": {"role": "admin", "password_hash": "plain-text"}}, "users.ana.password_hash: is not a bcrypt hash"),
    ({"ana": {"role": "owner", "password_hash": "$2b$04$" + "a" * 53}}, "users.ana.role"),
    ({}, "users"),
])
def test_an_invalid_auth_config_names_the_field(tmp_path: Path, users: dict, message: str) -> None:
    path = tmp_path / "auth.yaml"
    path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    with pytest.raises(AuthError, match=message):
        load_auth_config(path)


def test_the_example_auth_config_logs_in_its_demo_users() -> None:
    config = load_auth_config(Path(__file__).resolve().parent.parent / "examples" / "dashboard" / "auth.yaml")
    assert authenticate(config, "admin", "admin-demo") == "admin"
    assert authenticate(config, "viewer", "viewer-demo") == "viewer"
