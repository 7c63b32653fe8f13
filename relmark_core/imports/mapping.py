"""Column mapping for files Relmark does not recognise: propose, confirm, remember.

A mapping is a plain JSON object from Relmark field to the file's column, e.g.
``{"order_id": "Ref", "ordered_at": "Order Date", "total": "Montant", "email": "E-mail"}`` —
the shape the Data page saves and ``--mapping mapping.json`` takes. Proposals come from the
header names (English, French, German, Spanish and Italian words); the mapping used for a
committed import is remembered for the same header next time.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict

from relmark_core import store
from relmark_core.errors import InputRefused
from relmark_core.imports.formats import (
    FIELDS,
    KINDS,
    Kind,
    field_spec,
    normalise_header,
    required_fields,
)

__all__ = [
    "ImportMapping",
    "SYNONYMS",
    "propose_mapping",
    "infer_kind",
    "header_key",
    "remembered_mapping",
    "remember_mapping",
    "mapping_from_json",
    "missing_required",
]

# Relmark field -> header words that mean it (compared without accents, punctuation or case).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order", "order number", "order no", "order nr", "order ref",
                 "order reference", "reference", "ref", "invoice", "invoice number",
                 "transaction id", "id commande", "commande", "numero de commande",
                 "no commande", "n commande", "bestellnummer", "bestellung", "auftragsnummer",
                 "pedido", "numero de pedido", "id pedido", "ordine", "numero ordine"),
    "ordered_at": ("order date", "date", "created at", "created", "purchase date", "ordered at",
                   "order time", "timestamp", "date de commande", "date commande",
                   "bestelldatum", "datum", "fecha", "fecha de pedido", "fecha pedido",
                   "data ordine", "data"),
    "total": ("total", "order total", "amount", "total amount", "grand total", "montant",
              "montant total", "total ttc", "prix total", "betrag", "gesamtbetrag", "summe",
              "gesamt", "importe", "importe total", "totale", "revenue", "amount paid",
              "total paid", "paid"),
    "currency": ("currency", "currency code", "devise", "monnaie", "wahrung", "waehrung",
                 "moneda", "valuta"),
    "status": ("status", "order status", "financial status", "payment status", "statut",
               "etat", "estado", "stato", "zahlungsstatus"),
    "refunds": ("refunds", "refunded", "refund", "refunded amount", "refund amount",
                "amount refunded", "remboursement", "montant rembourse", "erstattung",
                "erstattet", "reembolso", "rimborso"),
    "subtotal": ("subtotal", "sub total", "sous total", "zwischensumme", "subtotale"),
    "discounts": ("discount", "discounts", "discount amount", "remise", "rabatt", "descuento",
                  "sconto"),
    "shipping": ("shipping", "shipping cost", "shipping amount", "delivery", "livraison",
                 "frais de port", "versand", "versandkosten", "envio", "spedizione"),
    "tax": ("tax", "taxes", "vat", "tva", "mwst", "ust", "steuer", "iva", "sales tax"),
    "sales_channel": ("channel", "sales channel", "source", "canal", "kanal"),
    "discount_code": ("discount code", "coupon", "coupon code", "promo code", "code promo",
                      "gutschein", "gutscheincode", "cupon", "codigo promocional"),
    "customer_id": ("customer id", "client id", "customer number", "customer no",
                    "id client", "numero client", "kundennummer", "kunden id", "id cliente",
                    "codice cliente"),
    "email": ("email", "e mail", "email address", "e mail address", "mail", "courriel",
              "adresse email", "adresse e mail", "adresse mail", "correo",
              "correo electronico", "emailadresse", "e mail adresse", "customer email",
              "billing email"),
    "first_name": ("first name", "firstname", "given name", "prenom", "vorname", "nombre",
                   "nome"),
    "last_name": ("last name", "lastname", "surname", "family name", "nom", "nom de famille",
                  "nachname", "apellido", "apellidos", "cognome"),
    "name": ("name", "full name", "customer name", "client name", "customer", "client",
             "nom complet", "kunde", "cliente", "billing name"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile", "telefon", "telefono",
              "portable", "handy", "cellulare"),
    "city": ("city", "town", "ville", "stadt", "ort", "ciudad", "citta"),
    "region": ("region", "state", "province", "county", "bundesland", "provincia",
               "state region"),
    "country": ("country", "country code", "pays", "land", "pais", "paese", "nation"),
    "accepts_marketing": ("accepts marketing", "accepts email marketing", "marketing",
                          "newsletter", "opt in", "optin", "consent", "subscribed",
                          "email consent", "marketing consent", "email marketing consent"),
    "product": ("product", "product name", "item", "item name", "produit", "article",
                "artikel", "producto", "prodotto", "lineitem name"),
    "sku": ("sku", "product code", "item code", "reference produit", "artikelnummer",
            "lineitem sku"),
    "category": ("category", "product category", "product type", "categorie", "kategorie",
                 "categoria"),
    "quantity": ("quantity", "qty", "qte", "quantite", "menge", "anzahl", "cantidad",
                 "quantita", "lineitem quantity"),
    "unit_price": ("unit price", "price", "item price", "prix", "prix unitaire", "preis",
                   "einzelpreis", "precio", "precio unitario", "prezzo", "lineitem price"),
    "birthday": ("birthday", "date of birth", "dob", "birth date", "birthdate",
                 "date de naissance", "geburtstag", "geburtsdatum", "fecha de nacimiento",
                 "data di nascita"),
    "gender": ("gender", "sex", "sexe", "genre", "geschlecht", "genero", "sesso"),
    "tags": ("tags", "interests", "labels", "segments", "interets", "interessen"),
    "acquisition_channel": ("acquisition channel", "source", "utm source", "referrer",
                            "channel", "how did you hear about us", "initial source"),
    "signup_at": ("signup date", "sign up date", "signed up", "created at", "created",
                  "registration date", "registered", "date inscription", "joined",
                  "customer since", "registriert", "fecha de registro"),
    "score": ("score", "nps", "nps score", "rating", "note", "csat", "satisfaction",
              "bewertung", "puntuacion", "voto"),
    "answered_at": ("date", "answered at", "submitted at", "response date", "created at",
                    "timestamp", "submit date", "date de reponse", "datum", "fecha"),
    "response_id": ("response id", "answer id", "submission id"),
    "kind": ("survey type", "survey kind", "kind"),
    "comment": ("comment", "comments", "feedback", "remarks", "commentaire", "kommentar",
                "comentario", "commento", "why", "reason"),
    "title": ("title", "review title", "titre", "titel", "titulo"),
}

# Words that mean a different field depending on the kind of file.
_KIND_SYNONYMS: dict[Kind, dict[str, tuple[str, ...]]] = {
    "orders": {"order_id": ("id", "number", "no", "nr")},
    "customers": {"customer_id": ("id",)},
    "feedback": {"response_id": ("id",)},
}
_MIN_CONTAINS_LEN = 4


class ImportMapping(BaseModel):
    """Which column of the file fills which Relmark field, for one kind of file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    fields: dict[str, str]

    def sentence(self) -> str:
        """The mapping in words, e.g. "Order number ← 'Ref', Order date ← 'Wann'"."""
        parts = []
        for key, column in self.fields.items():
            spec = field_spec(self.kind, key)
            parts.append(f"{spec.label if spec else key} ← '{column}'")
        return ", ".join(parts) if parts else "nothing mapped"

    def as_json(self) -> str:
        """The JSON the page saves and ``--mapping`` takes: field -> column."""
        return json.dumps(self.fields, ensure_ascii=False)


def _plain(text: str) -> str:
    t = unicodedata.normalize("NFKD", normalise_header(text))
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"[^a-z0-9]+", " ", t.replace("#", " number "))
    return re.sub(r"\s+", " ", t).strip()


def _synonyms(kind: Kind, key: str) -> tuple[str, ...]:
    return SYNONYMS.get(key, ()) + _KIND_SYNONYMS.get(kind, {}).get(key, ())


def propose_mapping(header: list[str], kind: Kind) -> ImportMapping:
    """Propose a mapping from header names: exact words first, then names containing them."""
    plain = [_plain(h) for h in header]
    taken: set[int] = set()
    fields: dict[str, str] = {}
    keys = [f.key for f in FIELDS[kind]]
    for key in keys:  # pass 1: exact
        wanted = {_plain(s) for s in _synonyms(kind, key)}
        for i, p in enumerate(plain):
            if i not in taken and p in wanted:
                fields[key] = header[i]
                taken.add(i)
                break
    for key in keys:  # pass 2: the header contains one of the words
        if key in fields:
            continue
        words = [_plain(s) for s in _synonyms(kind, key) if len(_plain(s)) >= _MIN_CONTAINS_LEN]
        for i, p in enumerate(plain):
            if i in taken:
                continue
            if any(re.search(rf"\b{re.escape(w)}\b", p) for w in words):
                fields[key] = header[i]
                taken.add(i)
                break
    ordered = {k: fields[k] for k in keys if k in fields}
    return ImportMapping(kind=kind, fields=ordered)


def missing_required(mapping: ImportMapping) -> list[str]:
    """Required fields the mapping leaves empty (customers: an email or a customer id)."""
    if mapping.kind == "customers":
        if "email" in mapping.fields or "customer_id" in mapping.fields:
            return []
        return ["email"]
    return [k for k in required_fields(mapping.kind) if k not in mapping.fields]


def infer_kind(header: list[str]) -> Kind | None:
    """Orders if order number, date and total map; feedback if score and date; customers if an
    email or customer id maps; otherwise None."""
    for kind in ("orders", "feedback", "customers"):
        if not missing_required(propose_mapping(header, kind)):
            return kind
    return None


def header_key(header: list[str]) -> str:
    """A fingerprint of the header (names compared case- and space-insensitively)."""
    text = "\x1f".join(normalise_header(h) for h in header)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def remembered_mapping(conn: duckdb.DuckDBPyConnection, header: list[str]) -> ImportMapping | None:
    """The mapping last used for a file with the same header, if any."""
    rows = conn.execute(
        "SELECT kind, fields FROM import_mappings WHERE header_key = ?", [header_key(header)]
    ).fetchall()
    if not rows:
        return None
    kind, fields = rows[0]
    try:
        return ImportMapping(kind=kind, fields=json.loads(fields))
    except (ValueError, TypeError):
        return None


def remember_mapping(
    conn: duckdb.DuckDBPyConnection,
    header: list[str],
    mapping: ImportMapping,
    *,
    actor: str = store.DEFAULT_ACTOR,
) -> None:
    """Save the mapping for this header (call inside the import's transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO import_mappings VALUES (?, ?, ?, ?, ?, ?)",
        [header_key(header), mapping.kind, mapping.as_json(), json.dumps(header), actor,
         store.utc_now()],
    )


def mapping_from_json(
    value: Mapping[str, Any] | ImportMapping | str, *, kind: Kind | None, where: str = "mapping"
) -> ImportMapping:
    """A mapping from its JSON form (``{"field": "column"}``; ``{"kind", "fields"}`` also read).

    Raises :class:`InputRefused` naming the unknown fields.
    """
    if isinstance(value, ImportMapping):
        return value if kind is None or value.kind == kind else ImportMapping(
            kind=kind, fields=dict(value.fields)
        )
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InputRefused(f"The {where} is not valid JSON: {exc}.") from exc
    if not isinstance(value, Mapping):
        raise InputRefused(
            f"The {where} must be a JSON object from Relmark field to column, like "
            '{"order_id": "Ref", "total": "Amount"}.'
        )
    fields_obj: Any = value.get("fields", value) if "fields" in value else value
    given_kind = value.get("kind") if "fields" in value else None
    if not isinstance(fields_obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields_obj.items()
    ):
        raise InputRefused(
            f"The {where} must map Relmark fields to column names (text to text), like "
            '{"order_id": "Ref", "total": "Amount"}.'
        )
    fields = {str(k): str(v) for k, v in fields_obj.items() if str(v).strip()}
    use_kind: Kind | None = kind or (given_kind if given_kind in KINDS else None)
    if use_kind is None:
        use_kind = _kind_of_fields(fields)
    known = {f.key for f in FIELDS[use_kind]}
    unknown = sorted(k for k in fields if k not in known)
    if unknown:
        raise InputRefused(
            f"The {where} names fields Relmark does not know for {use_kind}: "
            f"{', '.join(unknown)}. Known fields: {', '.join(sorted(known))}."
        )
    return ImportMapping(kind=use_kind, fields=fields)


def _kind_of_fields(fields: Mapping[str, str]) -> Kind:
    if any(k in fields for k in ("order_id", "total", "ordered_at")):
        return "orders"
    if any(k in fields for k in ("score", "answered_at", "response_id")):
        return "feedback"
    return "customers"
