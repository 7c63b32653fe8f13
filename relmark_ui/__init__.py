"""Streamlit glue shared by the pages: the per-rerun frame, cached core calls, common widgets.

No metric logic lives here: pages call relmark_core through :func:`compute`.
"""

from relmark_ui.cache import compute
from relmark_ui.context import current

__all__ = ["compute", "current"]
