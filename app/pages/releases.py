import streamlit as st

st.title("releases")
