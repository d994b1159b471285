"""The dashboard's pages: Streamlit scripts that st.navigation runs (see dashboards/app.py), not modules to import."""
