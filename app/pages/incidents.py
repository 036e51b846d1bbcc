import streamlit as st

st.title("incidents")
