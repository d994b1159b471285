"""The Streamlit monitoring dashboard (planned, not yet implemented); its pages will read the run store."""
