import streamlit as st

st.title("lead_times")
