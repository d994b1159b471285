"""The login form and the signed-in user's role, kept in the browser session's state.

With no auth config (local use) there is no form and the session is ``admin``; with one, nothing but the form is
shown until a user signs in, and only ``admin`` sees the registry's promote and rollback actions.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboards.auth import AuthError, Role, auth_config_path, authenticate, load_auth_config

SESSION_KEY = "evalkit_dashboard_user"


@dataclass(frozen=True)
class Session:
    """Who is using the dashboard."""

    username: str
    role: Role
    login_required: bool


def current_session() -> Session | None:
    """The signed-in session; with login off, a local ``admin`` session; ``None`` when a login is needed."""
    if auth_config_path() is None:
        return Session(username="local", role="admin", login_required=False)
    return st.session_state.get(SESSION_KEY)


def is_admin() -> bool:
    """Whether the current session may promote and roll back."""
    session = current_session()
    return session is not None and session.role == "admin"


def login_form() -> None:
    """Show the login form; on success store the session and rerun, on failure say so (and nothing else)."""
    path = auth_config_path()
    assert path is not None
    try:
        config = load_auth_config(path)
    except AuthError as error:
        st.error(str(error))
        return
    st.title("evalkit dashboard")
    with st.form("login"):
        username = st.text_input("User name", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if not submitted:
        return
    role = authenticate(config, username, password)
    if role is None:
        st.error("Wrong user name or password.")
        return
    st.session_state[SESSION_KEY] = Session(username=username.strip(), role=role, login_required=True)
    st.rerun()


def session_sidebar(session: Session) -> None:
    """Who is signed in, and the logout button (when login is on)."""
    if not session.login_required:
        st.sidebar.caption("Local mode: no login, full access (`evalkit dashboard --auth FILE` turns login on).")
        return
    st.sidebar.caption(f"Signed in as **{session.username}** ({session.role})")
    if st.sidebar.button("Log out"):
        st.session_state.pop(SESSION_KEY, None)
        st.rerun()
