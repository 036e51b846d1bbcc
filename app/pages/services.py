import streamlit as st

st.title("services")
