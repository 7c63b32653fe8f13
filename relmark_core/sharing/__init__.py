"""Sharing views: links that reproduce a page (optionally with locked filters) and saved views.

- :mod:`relmark_core.sharing.links`: sign and verify the ``lock=`` token of a locked link.
- :mod:`relmark_core.sharing.views`: saved views (a name, a page and its URL settings) in the
  store, and the plain sentence describing a view's filters.
"""

from relmark_core.sharing.links import (
    FILTER_PARAMS,
    LOCK_PARAM,
    LockedView,
    sign_lock,
    verify_lock,
)
from relmark_core.sharing.views import (
    SAVED_VIEW_PARAM,
    SavedView,
    delete_view,
    describe_params,
    get_view,
    list_views,
    rename_view,
    save_view,
)

__all__ = [
    "FILTER_PARAMS",
    "LOCK_PARAM",
    "LockedView",
    "sign_lock",
    "verify_lock",
    "SAVED_VIEW_PARAM",
    "SavedView",
    "delete_view",
    "describe_params",
    "get_view",
    "list_views",
    "rename_view",
    "save_view",
]
