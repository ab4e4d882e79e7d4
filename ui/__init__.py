"""Streamlit widgets shared by more than one page (the pages stay thin)."""
