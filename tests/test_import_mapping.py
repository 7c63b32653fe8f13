"""Column mapping for unrecognised files: proposals from header words, the JSON shape, kinds."""

from __future__ import annotations

import pytest

from relmark_core.errors import InputRefused
from relmark_core.imports.mapping import (
    ImportMapping,
    header_key,
    infer_kind,
    mapping_from_json,
    propose_mapping,
)


@pytest.mark.parametrize(
    ("header", "kind", "fields"),
    [
        (["Order ID", "Order Date", "Amount", "E-mail", "Customer Name", "Qty", "Product", "Price"],
         "orders",
         {"order_id": "Order ID", "ordered_at": "Order Date", "total": "Amount",
          "email": "E-mail", "name": "Customer Name", "product": "Product", "quantity": "Qty",
          "unit_price": "Price"}),
        (["id", "email", "created_at", "amount"], "orders",
         {"order_id": "id", "ordered_at": "created_at", "total": "amount", "email": "email"}),
        (["N° commande", "Date de commande", "Montant TTC", "Courriel", "Prénom", "Nom"], "orders",
         {"order_id": "N° commande", "ordered_at": "Date de commande", "total": "Montant TTC",
          "email": "Courriel", "first_name": "Prénom", "last_name": "Nom"}),
        (["Email Address", "First Name", "Last Name", "Birthday", "Gender", "Tags"], "customers",
         {"email": "Email Address", "first_name": "First Name", "last_name": "Last Name",
          "birthday": "Birthday", "gender": "Gender", "tags": "Tags"}),
        (["Email", "Date", "NPS", "Why?"], "feedback",
         {"score": "NPS", "answered_at": "Date", "comment": "Why?", "email": "Email"}),
        (["Kundennummer", "E-Mail-Adresse", "Vorname"], "customers",
         {"customer_id": "Kundennummer", "email": "E-Mail-Adresse", "first_name": "Vorname"}),
    ],
)
def test_proposals_from_header_words(header: list[str], kind: str, fields: dict) -> None:
    assert infer_kind(header) == kind
    assert propose_mapping(header, kind).fields == fields  # type: ignore[arg-type]


def test_no_kind_when_nothing_maps() -> None:
    assert infer_kind(["lorem", "ipsum"]) is None


def test_mapping_json_is_field_to_column() -> None:
    m = mapping_from_json('{"order_id": "Ref", "total": "Montant"}', kind=None)
    assert m == ImportMapping(kind="orders", fields={"order_id": "Ref", "total": "Montant"})
    assert m.as_json() == '{"order_id": "Ref", "total": "Montant"}'
    assert m.sentence() == ("Order number ← 'Ref', Order total (paid, incl. shipping and tax) "
                            "← 'Montant'")
    assert mapping_from_json({"kind": "feedback", "fields": {"score": "NPS"}}, kind=None) == \
        ImportMapping(kind="feedback", fields={"score": "NPS"})


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("[1, 2]", "must be a JSON object from Relmark field to column"),
        ('{"total": 3}', "must map Relmark fields to column names"),
        ('{"colour": "Total"}', "names fields Relmark does not know for customers: colour"),
        ("{nope", "is not valid JSON"),
    ],
)
def test_bad_mappings_are_refused(value: str, words: str) -> None:
    with pytest.raises(InputRefused, match=words):
        mapping_from_json(value, kind=None)


def test_header_key_ignores_case_and_spaces() -> None:
    assert header_key(["Order  ID", "Total "]) == header_key(["order id", "TOTAL"])
    assert header_key(["Order ID", "Total"]) != header_key(["Total", "Order ID"])
