"""Importing the exports marketers already have: recognise, map, preview, commit, undo.

    pv = preview(conn, "orders_export.csv")          # nothing stored yet
    if pv.ready:
        result = commit(conn, pv)                     # one transaction: all or nothing
    undo_import(conn, result.import_id)

Known exports are recognised by their header (:mod:`.formats`); any other CSV/TSV/xlsx goes
through a column mapping (:mod:`.mapping`). Reading (encodings, delimiters, xlsx) is in
:mod:`.reading`; checking, loading, undo and history in :mod:`.load`.
"""

from relmark_core.imports.formats import FIELDS, FORMAT_NAMES, FORMATS, KINDS, FieldSpec, Kind
from relmark_core.imports.load import (
    DateOrder,
    ImportPreview,
    ImportRefused,
    ImportResult,
    Problem,
    Progress,
    Question,
    commit,
    import_history,
    neutralise_formula,
    preview,
    rejected_rows_csv,
    undo_import,
)
from relmark_core.imports.mapping import (
    ImportMapping,
    propose_mapping,
    remember_mapping,
    remembered_mapping,
)

__all__ = [
    "preview",
    "commit",
    "undo_import",
    "import_history",
    "rejected_rows_csv",
    "neutralise_formula",
    "ImportPreview",
    "ImportResult",
    "ImportRefused",
    "ImportMapping",
    "Problem",
    "Question",
    "Progress",
    "DateOrder",
    "Kind",
    "KINDS",
    "FIELDS",
    "FieldSpec",
    "FORMATS",
    "FORMAT_NAMES",
    "propose_mapping",
    "remembered_mapping",
    "remember_mapping",
]
