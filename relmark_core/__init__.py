"""Relmark's core: storage, imports, metrics, segments, loyalty and offers. Never imports streamlit."""
