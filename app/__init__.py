"""The changeboard Streamlit app: thin pages over the published dbt models."""
