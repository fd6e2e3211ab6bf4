"""What a Log Analytics row is, read once for every replay path: the column a header names, the
table a row belongs to, the raw record kind a record is, a datetime's value (in Python and, for the
export scan, in SQL) and an events file's text.

The loaders (:mod:`.loaders`), the engine's load of Python values (:mod:`.columns`) and the native
export reading (:mod:`.exports`) all ask here, so the paths cannot read one fact two ways.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..sources import TABLES, RawRecordReader, Source, all_sources

# A file of raw records wraps them as {"records": [...]} (Event Hubs, storage accounts).
RECORDS_KEY = "records"


class EventsFormatError(ValueError):
    """An events file that is none of the accepted kinds."""


# ---- headers and tables ----------------------------------------------------------------------------
# A Log Analytics CSV export writes a datetime column's header with its time zone: "TimeGenerated [UTC]".
_HEADER_SUFFIX = re.compile(r"\s*\[[A-Za-z]+\]$")


def column_name(header: str) -> str:
    """The column an export's header names (``TimeGenerated [UTC]`` -> ``TimeGenerated``)."""
    return _HEADER_SUFFIX.sub("", header)


def table_of_row(row: Mapping[str, Any]) -> str | None:
    """The table a Log Analytics row (keys are column names) belongs to: the one it names in
    ``$table`` or ``Type``, else the first source whose row markers it has; None for none."""
    for key in ("$table", "Type"):
        value = row.get(key)
        if isinstance(value, str) and value in TABLES:
            return value
    for source in all_sources():
        if any(marker in row for marker in source.row_markers):
            return source.table
    return None


def raw_readers() -> list[tuple[Source, RawRecordReader]]:
    """Every raw record reader of the registered sources, with its source."""
    return [(source, reader) for source in all_sources() for reader in source.raw_records]


def raw_reader_of(record: Mapping[str, Any]) -> tuple[Source, RawRecordReader] | None:
    """The reader of a raw record: of those that recognise it, the one of highest priority."""
    recognised = [(source, reader) for source, reader in raw_readers() if reader.recognise(record)]
    return max(recognised, key=lambda pair: pair[1].priority, default=None)


def envelope_keys() -> tuple[str, ...]:
    """The keys of the lists that hold raw records in an export file (``records``, CloudTrail's
    ``Records``), as the sources' readers declare them."""
    return tuple(sorted({RECORDS_KEY} | {reader.envelope for _, reader in raw_readers()}))


def may_hold_raw_records(keys: set[str]) -> bool:
    """Whether rows with these keys (every key of a file's rows) may hold a raw record of some
    reader: its `keys` are all there, or the file wraps records in an envelope (``records``)."""
    return bool(keys & set(envelope_keys())) or any(reader.keys <= keys for _, reader in raw_readers())


# ---- datetimes -----------------------------------------------------------------------------------
# The formats a datetime column's text has in a Log Analytics export: the portal's CSV writes
# `4/28/2021, 2:32:14.029 PM` (UTC, as its header says); JSON and the query API write ISO 8601
# with up to 7 fraction digits and `Z` or an offset. Both readings below follow these facts.
_PORTAL_DATETIME = r"^\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2}(\.\d{1,6})? [AP]M$"
_PORTAL_FORMATS = ("%m/%d/%Y, %I:%M:%S.%f %p", "%m/%d/%Y, %I:%M:%S %p")
_OFFSET = r"(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)"  # Python has no offset of a day or more
# hours 00-23 (DuckDB would read 24:00:00 as the next day; Python reads no such time)
_ISO_DATETIME = rf"^\d{{4}}-\d{{2}}-\d{{2}}([T ]([01]\d|2[0-3]):\d{{2}}:\d{{2}}(\.\d+)?)?{_OFFSET}?$"
_ZONE = rf"{_OFFSET}$"
_FRACTION_DIGITS = 6  # both readings keep microseconds: further digits are cut, not rounded
_BLANKS = " \t\r\n"  # what both readings trim around the text
# the common case of _ISO_DATETIME: a year from 0001, "T", fraction digits, "Z" (Log Analytics
# writes seven: 2024-05-01T00:45:36.3744000Z); its first 26 characters hold at most six of them
_EXPORT_DATETIME = r"(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d\d\d)-\d\d-\d\dT([01]\d|2[0-3]):\d\d:\d\d(\.\d+)?Z"
_EXPORT_MICROSECONDS = len("2024-05-01T00:45:36.374400")
_EXTRA_DIGITS = re.compile(rf"(\.\d{{{_FRACTION_DIGITS}}})\d+")


def read_datetime(value: Any) -> datetime | None:
    """A datetime column's value as a naive UTC datetime; None for null or ''. Raises ValueError
    for a text that is not a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip(_BLANKS)
    try:
        if re.fullmatch(_PORTAL_DATETIME, text):
            return datetime.strptime(text, _PORTAL_FORMATS[0] if "." in text else _PORTAL_FORMATS[1])
        if not re.fullmatch(_ISO_DATETIME, text):
            raise ValueError(text)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(_EXTRA_DIGITS.sub(r"\1", text))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError) as error:  # OverflowError: before year 1 or after 9999 in UTC
        raise ValueError(f"not a datetime: {value!r}") from error
    return parsed


def datetime_sql(text: str, *, strict: bool = False) -> str:
    """SQL of :func:`read_datetime` over the SQL text expression `text` (a TIMESTAMP; NULL for
    NULL or ''): the same formats, the same cut of fraction digits, offsets to UTC. A text that
    is not a datetime is NULL, or with `strict` an error (the export scan then leaves the file to
    the loaders, which say which value does not read)."""
    blanks = " || ".join(f"chr({ord(c)})" for c in _BLANKS)
    trimmed = f"trim({text}, {blanks})"
    cut = f"regexp_replace({trimmed}, '{_EXTRA_DIGITS.pattern}', '\\1')"
    formats = ", ".join(f"'{f}'" for f in _PORTAL_FORMATS)
    unread = "error('not a datetime: ' || " + text + ")" if strict else "NULL"
    cast = "CAST" if strict else "TRY_CAST"
    zoned = f"{cast}({cut} AS TIMESTAMPTZ)"
    return (
        f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL "
        # the form exports write (UTC), read with one pattern and one cast of its text to the
        # microsecond: the "Z" and any further fraction digits cut
        f"WHEN regexp_full_match({text}, '{_EXPORT_DATETIME}') "
        f"THEN {cast}(left({text}, least(length({text}) - 1, {_EXPORT_MICROSECONDS})) AS TIMESTAMP) "
        # DuckDB reads year 0 as 1 BC; Python has no year 0
        f"WHEN regexp_matches({trimmed}, '(^0000-|/0000, )') THEN {unread} "
        f"WHEN regexp_matches({trimmed}, '{_PORTAL_DATETIME}') "
        f"THEN {'strptime' if strict else 'try_strptime'}({trimmed}, [{formats}]) "
        f"WHEN NOT regexp_matches({trimmed}, '{_ISO_DATETIME}') THEN {unread} "
        f"WHEN regexp_matches({trimmed}, '{_ZONE}') THEN CASE WHEN {zoned} BETWEEN "
        f"TIMESTAMPTZ '0001-01-01 00:00:00+00' AND TIMESTAMPTZ '9999-12-31 23:59:59.999999+00' "
        f"THEN {zoned} AT TIME ZONE 'UTC' ELSE {unread} END "
        f"ELSE {cast}({cut} AS TIMESTAMP) END"
    )


# ---- files -----------------------------------------------------------------------------------------
def read_text(path: Path) -> str:
    """An events file's text (UTF-8, a byte-order mark dropped, universal newlines: CR LF and CR
    read as LF, as the export scan reads them). A file that cannot be read or is not UTF-8 is an
    EventsFormatError saying where, in one line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EventsFormatError(f"{path}: cannot read events: {error.strerror or error}") from error
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EventsFormatError(not_utf8(path, data, error.start)) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def not_utf8(path: Path | str, data: bytes, offset: int) -> str:
    """The message for a file whose bytes are not UTF-8 from `offset` on."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return (
        f"{path}: not a UTF-8 text file: byte 0x{data[offset]:02X} at line {line}, column {column} "
        "does not read as UTF-8; save the events as UTF-8 (Log Analytics exports are UTF-8)"
    )
