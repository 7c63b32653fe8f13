"""Getting a file into DuckDB: refuse what is not a table, find encoding, delimiter and header.

DuckDB reads UTF-8 (with or without BOM) natively, and UTF-16 and Latin-1 through its
``encoding`` option; its extra encodings extension (Windows-1252 and others) cannot be installed
offline. So UTF-16 (Excel's "Unicode text") and Windows-1252 / Latin-1 files are decoded here in
Python, in chunks, and handed to DuckDB as UTF-8; xlsx workbooks (openpyxl) are written out as
UTF-8 CSV. Everything after that is ``read_csv`` of the needed columns, all as text.

Rows are numbered the way a spreadsheet shows them: the header is row 1, the first data row is
row 2. For files up to :data:`EXACT_ROWS_MAX_BYTES` the numbers also count blank lines (a
spreadsheet shows them as empty rows); DuckDB skips blank lines, so in larger files a row number
after a blank line is off by the blank lines above it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from relmark_core.errors import InputRefused

__all__ = [
    "ImportRefused",
    "SNIFF_BYTES",
    "EXACT_ROWS_MAX_BYTES",
    "DELIMITERS",
    "SourceInput",
    "CsvFile",
    "open_source",
    "transcode",
    "read_csv_sql",
    "spreadsheet_rows",
    "refused",
]

SNIFF_BYTES = 1 << 16
UTF8_CHECK_BYTES = 1 << 20
EXACT_ROWS_MAX_BYTES = 32 << 20
HASH_CHUNK_BYTES = 1 << 22
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_RECORDS = 50

SourceInput = str | Path | bytes | bytearray | memoryview | IO[bytes]

_MAGIC: list[tuple[bytes, str]] = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"BM", "a bitmap image"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Word file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3", "an SQLite database"),
]


class ImportRefused(InputRefused):
    """A whole file refused; carries what was learned about it (for the CLI's JSON line)."""

    def __init__(
        self,
        message: str,
        *,
        format: str | None = None,
        kind: str | None = None,
        rows_read: int = 0,
        rows_rejected: int = 0,
    ) -> None:
        super().__init__(message)
        self.format = format
        self.kind = kind
        self.rows_read = rows_read
        self.rows_rejected = rows_rejected


def refused(file_name: str, sentence: str) -> ImportRefused:
    """An :class:`ImportRefused` whose message starts with the file's name."""
    return ImportRefused(f"{file_name}: {sentence}")


class _Hash:
    """A file's SHA-256 being computed in a thread; :attr:`value` waits for it."""

    def __init__(self, job: Future[str]) -> None:
        self.job = job

    @property
    def value(self) -> str:
        return self.job.result()


@dataclass
class CsvFile:
    """A file ready for DuckDB's ``read_csv``: UTF-8 (or UTF-16) text with a known layout.

    ``content_hash`` (the file's SHA-256) is computed in a thread from the moment the file is
    opened: reading it waits for it.
    """

    name: str
    path: Path
    hashing: _Hash
    size: int
    encoding: str
    delimiter: str
    header: list[str]
    skip_lines: int = 0
    notes: list[str] = field(default_factory=list)
    row_of_record: list[int] | None = None
    numbered: bool = False
    workdir: Path | None = None

    @property
    def content_hash(self) -> str:
        return self.hashing.value

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))


# --- opening --------------------------------------------------------------------------------


@contextmanager
def open_source(source: SourceInput, file_name: str) -> Iterator[CsvFile]:
    """Check the file is a table, settle its encoding and layout; clean up temp files after."""
    workdir = Path(tempfile.mkdtemp(prefix="relmark-import-"))
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relmark-import-hash")
    try:
        path = _materialise(source, workdir, file_name)
        size = path.stat().st_size
        # The hash is read in a thread while DuckDB reads the rows (both leave Python's lock).
        content_hash = _Hash(hasher.submit(_sha256, path))
        if size == 0:
            raise refused(file_name, "the file is empty. Export the data again and import the new file.")
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
        if head.startswith(b"PK\x03\x04"):
            csv_path, header, notes = _xlsx_to_csv(path, workdir, file_name)
            csv_file = CsvFile(
                name=file_name, path=csv_path, hashing=content_hash, size=size,
                encoding="xlsx", delimiter=",", header=header, notes=notes, workdir=workdir,
            )
            yield csv_file
            return
        _refuse_binary(head, file_name)
        encoding, text_path, notes = _settle_encoding(path, head, workdir, file_name)
        with text_path.open("rb") as fh:
            sniff = fh.read(SNIFF_BYTES)
        sniff_text = sniff.decode("utf-8", errors="replace").lstrip("\ufeff")
        delimiter, header, skip = _layout(sniff_text, file_name)
        csv_file = CsvFile(
            name=file_name, path=text_path, hashing=content_hash, size=size,
            encoding=encoding, delimiter=delimiter, header=header, skip_lines=skip,
            notes=notes, workdir=workdir,
        )
        yield csv_file
    finally:
        hasher.shutdown(wait=True)  # the file may be in workdir
        shutil.rmtree(workdir, ignore_errors=True)


def _materialise(source: SourceInput, workdir: Path, file_name: str) -> Path:
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise refused(file_name, "the file was not found. Check the path and try again.")
        if p.is_dir():
            raise refused(file_name, "this is a folder, not a file. Pick the export file itself.")
        return p
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "getvalue"):
        data = bytes(source.getvalue())
    else:
        data = source.read()
    p = workdir / "upload.bin"
    p.write_bytes(data)
    return p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _refuse_binary(head: bytes, file_name: str) -> None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise refused(
                file_name,
                f"this is {what}, not a CSV or Excel export. Export the data from your tool as "
                "CSV (or .xlsx) and import that file.",
            )
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        raise refused(file_name, "this is a WebP image, not a CSV or Excel export. Export the "
                      "data from your tool as CSV (or .xlsx) and import that file.")
    if _looks_utf16(head):
        return
    if b"\x00" in head[:8192]:
        raise refused(
            file_name,
            "this is not a text file (it contains binary data). Export the data from your tool "
            "as CSV (or .xlsx) and import that file.",
        )


def _looks_utf16(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = head[:4096]
    if len(sample) < 4:
        return False
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    half = len(sample) // 2
    return max(even_nul, odd_nul) > 0.4 * half and min(even_nul, odd_nul) < 0.05 * half


def _settle_encoding(
    path: Path, head: bytes, workdir: Path, file_name: str
) -> tuple[str, Path, list[str]]:
    if _looks_utf16(head):
        out = workdir / "utf8.csv"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            enc = "utf-16"
        else:
            enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        transcode(path, out, enc)
        return "utf-16", out, ["Read as UTF-16 text."]
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", path, []
    with path.open("rb") as fh:
        prefix = fh.read(UTF8_CHECK_BYTES)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(prefix, final=len(prefix) < UTF8_CHECK_BYTES)
    except UnicodeDecodeError:
        out = workdir / "utf8.csv"
        enc = transcode(path, out, "cp1252")
        label = "Windows-1252" if enc == "cp1252" else "Latin-1"
        return enc, out, [f"Read as {label} text (the file is not UTF-8)."]
    return "utf-8", path, []


def transcode(src: Path, dst: Path, encoding: str) -> str:
    """Rewrite ``src`` as UTF-8; cp1252 falls back to latin-1 for bytes cp1252 leaves undefined.

    Returns the encoding actually used.
    """
    used = encoding
    if encoding == "cp1252":
        try:
            _transcode(src, dst, "cp1252")
            return used
        except UnicodeDecodeError:
            used = "latin-1"
    _transcode(src, dst, used)
    return used


def _transcode(src: Path, dst: Path, encoding: str) -> None:
    with src.open("r", encoding=encoding, newline="") as fin, dst.open(
        "w", encoding="utf-8", newline=""
    ) as fout:
        while chunk := fin.read(HASH_CHUNK_BYTES):
            fout.write(chunk)


def _layout(text: str, file_name: str) -> tuple[str, list[str], int]:
    """Delimiter, header names and the number of lines before the header (``sep=`` hint)."""
    if not text.strip():
        raise refused(file_name, "the file is empty. Export the data again and import the new file.")
    skip = 0
    first_line = text.split("\n", 1)[0].strip("\r\n ")
    forced: str | None = None
    m = re.fullmatch(r"sep=(.)", first_line, flags=re.IGNORECASE)
    if m:
        forced = m.group(1)
        skip = 1
        text = text.split("\n", 1)[1] if "\n" in text else ""
    # Drop a possibly cut last line of the sniffed prefix.
    lines_text = text if len(text) < SNIFF_BYTES // 2 else text[: text.rfind("\n") + 1]
    candidates = [forced] if forced else list(DELIMITERS)
    best: tuple[float, str, list[str]] | None = None
    for d in candidates:
        records = _records(lines_text, d, SNIFF_RECORDS)
        if not records:
            continue
        header = records[0]
        width = len(header)
        body = [r for r in records[1:] if r]
        same = sum(1 for r in body if len(r) == width)
        score = (width if width > 1 else 0) * (1 + same) + same / (1 + len(body))
        if best is None or score > best[0]:
            best = (score, d, header)
    if best is None:
        raise refused(file_name, "the file has no header row. Export the data again with column "
                      "names in the first row.")
    _, delimiter, raw_header = best
    if all(not h.strip() for h in raw_header):
        raise refused(file_name, "the first row is empty, so the columns have no names. Remove "
                      "the empty lines above the header and import the file again.")
    return delimiter, unique_names(raw_header), skip


def _records(text: str, delimiter: str, limit: int) -> list[list[str]]:
    out: list[list[str]] = []
    try:
        for rec in csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'):
            if not out and not rec:
                continue  # blank lines above the header
            out.append(rec)
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def unique_names(raw: list[str]) -> list[str]:
    """Header names as shown: trimmed, blanks named by position, repeats numbered."""
    seen: dict[str, int] = {}
    names = []
    for i, h in enumerate(raw):
        name = h.replace("\ufeff", "").strip() or f"Column {i + 1}"
        key = name.lower()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        names.append(name)
    return names


# --- xlsx -----------------------------------------------------------------------------------


def _xlsx_to_csv(path: Path, workdir: Path, file_name: str) -> tuple[Path, list[str], list[str]]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile as exc:
        raise refused(file_name, "this looks like a ZIP archive but it is damaged. Export the "
                      "data again and import the new file.") from exc
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise refused(file_name, "this is a ZIP archive, not a spreadsheet. Unzip it and import "
                      "the CSV or .xlsx file inside.")
    import openpyxl  # local: only xlsx uploads pay for it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of errors on damaged files
        raise refused(file_name, "the Excel workbook could not be read (it may be damaged or "
                      "password-protected). Save it again from Excel, or export it as CSV.") from exc
    try:
        sheets = [ws for ws in wb.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
        ws = sheets[0] if sheets else wb.worksheets[0]
        out = workdir / "sheet.csv"
        header: list[str] | None = None
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            for values in ws.iter_rows(values_only=True):
                cells = [_cell_text(v) for v in values]
                while cells and cells[-1] == "":
                    cells.pop()
                if header is None:
                    if not cells:
                        continue
                    header = cells
                writer.writerow(cells)
    finally:
        wb.close()
    if header is None:
        raise refused(file_name, "the workbook's first sheet is empty. Put the export in the "
                      "first sheet, with column names in the first row.")
    notes = [f"Read the sheet '{ws.title}' of the workbook."]
    return out, unique_names(header), notes


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        if v.time() == time(0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


# --- row numbers ----------------------------------------------------------------------------


def _number_rows(f: CsvFile) -> None:
    """For small files, the spreadsheet row of each non-blank data record (blank lines count)."""
    if f.size > EXACT_ROWS_MAX_BYTES:
        return
    try:
        with f.path.open("r", encoding="utf-8-sig", newline="", errors="replace") as fh:
            for _ in range(f.skip_lines):
                fh.readline()
            rows: list[int] = []
            index = 0
            started = False
            for rec in csv.reader(fh, delimiter=f.delimiter, quotechar='"'):
                if not started:
                    if not rec:
                        continue
                    started = True  # the header
                    index = 1
                    continue
                index += 1
                if rec:
                    rows.append(index)
    except csv.Error:
        return
    f.row_of_record = rows


def spreadsheet_rows(f: CsvFile, records: list[int]) -> list[int]:
    """Spreadsheet row numbers (header = 1) of 0-based data record ordinals.

    The first call reads a small file (up to :data:`EXACT_ROWS_MAX_BYTES`) once more, in Python,
    to count its blank lines; call it while the file is open (inside :func:`open_source`).
    """
    if f.row_of_record is None and records and not f.numbered:
        f.numbered = True
        _number_rows(f)
    table = f.row_of_record
    out = []
    for k in records:
        if table is not None and 0 <= k < len(table):
            out.append(table[k])
        else:
            out.append(k + 2)
    return out


# --- read_csv -------------------------------------------------------------------------------


def read_csv_sql(
    f: CsvFile, columns: list[int], *, parallel: bool = True
) -> tuple[str, dict[str, Any]]:
    """``read_csv(...)`` selecting the given columns (as ``c<i>``) plus the overflow sentinel.

    Every column is read as text; a row with one value more than the header has puts it in
    ``c_extra`` (so that row can be refused rather than silently cut); more than one, or a quote
    that never closes, stops the read (strict mode) and the file is refused. Parameters are
    named (``$csv_path``, ``$csv_delim``).
    """
    n = len(f.header)
    spec = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + ", 'c_extra': 'VARCHAR'"
    cols = ", ".join(f"c{i}" for i in sorted(set(columns))) or "c0"
    # Column names are c<i>; the path and the delimiter are bound parameters.
    sql = (
        f"SELECT {cols}, c_extra FROM read_csv($csv_path, auto_detect = false, header = true, "  # noqa: S608
        f"skip = {int(f.skip_lines)}, delim = $csv_delim, quote = '\"', escape = '\"', "
        f"columns = {{{spec}}}, null_padding = true, strict_mode = true, "
        f"parallel = {'true' if parallel else 'false'})"
    )
    return sql, {"csv_path": str(f.path), "csv_delim": f.delimiter}
