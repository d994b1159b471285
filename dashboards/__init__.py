"""The Streamlit dashboard (``evalkit dashboard``): pages over the run store (``views/``), a small cached
data-access layer (``sources``, ``runs_data``, ``compare_data``, ``registry_data``, ``monitor_data``,
``embedding_map``), shared charts and widgets, optional login (``auth``, ``login``) and the registry actions."""
