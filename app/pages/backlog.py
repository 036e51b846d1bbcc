import streamlit as st

st.title("backlog")
