"""The evalkit dashboard: ``evalkit dashboard`` (or ``streamlit run dashboards/app.py``) on ``$EVALKIT_HOME``.

Pages read the run store; the registry page's promote and rollback call the same functions as the CLI. With an
auth config (``EVALKIT_DASHBOARD_AUTH``) nothing but the login form is served until a user signs in.
"""

from __future__ import annotations

import streamlit as st

from dashboards.login import current_session, login_form, session_sidebar
from dashboards.widgets import store_caption

# (file relative to this script, title, icon, URL path); the first page is the default.
PAGES = (
    ("views/overview.py", "Overview", ":material/dashboard:", "overview"),
    ("views/runs.py", "Runs", ":material/table_rows:", "runs"),
    ("views/compare.py", "Compare", ":material/compare_arrows:", "compare"),
    ("views/safety.py", "Safety", ":material/shield:", "safety"),
    ("views/monitoring.py", "Monitoring", ":material/monitor_heart:", "monitoring"),
    ("views/registry.py", "Registry", ":material/inventory_2:", "registry"),
)


def main() -> None:
    """Log in if required, then route to the chosen page."""
    st.set_page_config(page_title="evalkit", page_icon=":material/fact_check:", layout="wide")
    session = current_session()
    if session is None:
        login_form()
        return
    navigation = st.navigation([st.Page(file, title=title, icon=icon, url_path=url, default=index == 0)
                                for index, (file, title, icon, url) in enumerate(PAGES)])
    with st.sidebar:
        store_caption()
    session_sidebar(session)
    navigation.run()


main()
