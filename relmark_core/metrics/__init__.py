"""Metrics: plain functions over a :class:`~relmark_core.source.Source` returning tables."""
