"""Read events for replay, the kind detected from the content, not the file name.

Files are CSV, a JSON array, JSON lines or ``{"records": [...]}``; each record is one of:

* a Log Analytics row of a registered table (an export): it names its table in ``$table`` /
  ``Type`` or by the source's row markers (:func:`.rows.table_of_row`). CSV headers such as
  ``TimeGenerated [UTC]`` are read as the column (:func:`.rows.column_name`); dynamic columns held
  as JSON text are parsed; columns the table does not have (a union export adds some) are dropped;
* a raw Azure record (activity log, resource logs of a diagnostic setting): read by the
  ``RawRecordReader`` of the source that recognises it by its category and shape
  (:func:`.rows.raw_reader_of`).

Anything else, and a file that is not UTF-8, is an :class:`EventsFormatError` naming the file and
the record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sources import TABLES, RawRecordReader, source_for_table
from .columns import converter
from .rows import (
    EventsFormatError,
    column_name,
    envelope_keys,
    raw_reader_of,
    raw_readers,
    read_text,
    table_of_row,
)

__all__ = ["Event", "EventsFormatError", "check_readable", "read_events", "record_to_row"]


@dataclass
class Event:
    """One event ready to load: its table, its row (column -> value) and where it came from."""

    table: str
    row: dict[str, Any]
    source: str
    number: int  # 1-based record number over all inputs
    # column -> why its value does not read (the value is then null), with where it is: an error
    # only when a rule reads that column (see :func:`check_readable`)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> str | int:
        return _event_id(self, id_column(self.table))


def id_column(table: str) -> str | None:
    """The column that identifies an event of `table` (None: its record number does)."""
    source = source_for_table(table)
    return source.id_column if source else None


def _event_id(event: Event, column: str | None) -> str | int:
    value = event.row.get(column) if column else None
    return str(value) if value not in (None, "") else event.number


def event_ids(events: Sequence[Event]) -> list[str | int]:
    """Each event's :attr:`Event.event_id`, its table's id column looked up once a table."""
    columns = {table: id_column(table) for table in {event.table for event in events}}
    return [_event_id(event, columns[event.table]) for event in events]


def summary_columns(table: str) -> tuple[str, ...]:
    """The columns a replay report shows of a hit of `table`, after its id."""
    source = source_for_table(table)
    return source.summary_columns if source else ("TimeGenerated",)


def kept_columns(table: str) -> tuple[str, ...]:
    """The columns a scan keeps of a hit of `table`: its id column, then its summary columns."""
    source = source_for_table(table)
    return source.kept_columns() if source else ("TimeGenerated",)


# ---- Log Analytics rows ------------------------------------------------------------------------
def analytics_row(
    row: Mapping[str, Any], table: str, unreadable: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Log Analytics row: known columns kept, JSON text in dynamic columns parsed.

    A value that does not read as its column's type is null; why goes to `unreadable` (column ->
    reason) when given, else it raises ValueError naming the column."""
    schema = TABLES[table]
    out: dict[str, Any] = {}
    for raw_name, value in row.items():
        name = column_name(raw_name)
        kind = schema.get(name)
        if kind is None:
            continue
        if kind == "dynamic" and isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError as error:
                reason = f"column {name}: {_shown(value)} is not JSON ({error})"
                if unreadable is None:
                    raise ValueError(reason) from None
                unreadable[name] = reason
                value = None
        out[name] = value
    out.setdefault("Type", table)
    return out


_CHECKED_KINDS = {"datetime", "real", "long", "int", "bool"}  # kinds whose values may not read


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_values(table: str, row: dict[str, Any], unreadable: dict[str, str]) -> None:
    """Null each datetime or number that does not read as its column's type, saying why in
    `unreadable` (column -> reason); a datetime that reads becomes its value (one reading of
    every export format: :func:`.rows.read_datetime`)."""
    schema = TABLES[table]
    for name, value in row.items():
        kind = schema.get(name)
        if kind not in _CHECKED_KINDS or value is None:
            continue
        try:
            converted = converter(kind)(value)
            if kind == "datetime":
                row[name] = converted
        except (ValueError, TypeError, OverflowError):
            unreadable[name] = f"column {name}: {_shown(value)} is not a {kind}"
            row[name] = None


# ---- detection ------------------------------------------------------------------------------------
def record_to_row(
    record: Any, where: str, unreadable: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(table, row) for one record of any accepted kind. A value that does not read as its
    column's type is null, and `unreadable` (column -> "WHERE: column C: why") says why; without
    `unreadable`, such a value is an EventsFormatError."""
    if not isinstance(record, Mapping):
        raise EventsFormatError(f"{where}: expected a JSON object per event, got {type(record).__name__}")
    found: dict[str, str] = {}
    raw = raw_reader_of(record)
    table = table_of_row(record)
    if table is not None and raw is None:
        row = analytics_row(record, table, found)
    elif raw is not None:
        source, reader = raw
        try:
            row = reader.to_row(record)
        except ValueError as error:
            raise EventsFormatError(str(error)) from error
        table = str(row.get("Type") or source.table)
    else:
        raise _unknown_record(where, record, [reader.description for _, reader in raw_readers()])
    _check_values(table, row, found)
    if found and unreadable is None:
        raise EventsFormatError(f"{where}: {next(iter(found.values()))}")
    if unreadable is not None:
        unreadable.update((column, f"{where}: {reason}") for column, reason in found.items())
    return table, row


def _unknown_record(where: str, record: Mapping[str, Any], raw_kinds: list[str]) -> EventsFormatError:
    kinds = list(dict.fromkeys(raw_kinds))
    category = record.get("category")
    shape = f"category {category!r}" if category is not None else "no category"
    keys = ", ".join(sorted(map(str, record))[:6]) + (", ..." if len(record) > 6 else "")
    return EventsFormatError(
        f"{where}: not an event replay knows ({shape}; keys {keys or 'none'}): expected a Log Analytics "
        f"row of {', '.join(sorted(TABLES))} (with $table/Type or its columns), "
        f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    )


def _enveloped(document: Any, keys: tuple[str, ...]) -> tuple[str, list[Any]] | None:
    """(key, records) of an export file's envelope (one of `keys`, the readers' envelope keys), or None."""
    if not isinstance(document, Mapping):
        return None
    for key in keys:
        if isinstance(document.get(key), list):
            return key, document[key]
    return None


def _records_from_text(text: str, source: str) -> Iterator[tuple[Any, str]]:
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise EventsFormatError(f"{source}: empty file, no events")
    if stripped[0] in "[{":
        envelopes = envelope_keys()  # once a file, not once a line
        try:
            document = json.loads(stripped)
        except ValueError:
            document = None
        if isinstance(document, list):
            for index, record in enumerate(document, 1):
                yield record, f"{source}: item {index}"
            return
        if isinstance(document, Mapping):
            enveloped = _enveloped(document, envelopes)
            if enveloped is not None:
                for index, record in enumerate(enveloped[1], 1):
                    yield record, f"{source}: {enveloped[0]}[{index - 1}]"
                return
            yield document, source
            return
        if stripped[0] == "{":
            # lines end at \n only: a raw U+2028 (or any other Unicode line break) inside a
            # string is valid JSON
            for number, line in enumerate(stripped.split("\n"), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise EventsFormatError(f"{source}: line {number} is not JSON: {error}") from error
                enveloped = _enveloped(record, envelopes)
                if enveloped is not None:
                    for item in enveloped[1]:
                        yield item, f"{source}: line {number}"
                else:
                    yield record, f"{source}: line {number}"
            return
        raise EventsFormatError(f"{source}: not valid JSON or JSON lines")
    yield from _csv_records(stripped, source)


def _csv_records(text: str, source: str) -> Iterator[tuple[Any, str]]:
    # strict: a quoted value the file ends inside (a cut file) is an error, not a value
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        names = reader.fieldnames or []
    except csv.Error as error:
        raise EventsFormatError(f"{source}: the CSV header does not read: {error}") from error
    header = [column_name(name) for name in names]
    if not any(name in table for table in TABLES.values() for name in header if name not in {"Type"}):
        raise EventsFormatError(
            f"{source}: not an events file: expected JSON, JSON lines, or a CSV export of "
            f"{', '.join(sorted(TABLES))}"
        )
    number = 1
    while True:
        try:
            record = next(reader, None)
        except csv.Error as error:  # the file ends inside a quoted value
            raise EventsFormatError(
                f"{source}: row {number}: {error}; the file ends inside a quoted value (a cut row?)"
            ) from error
        if record is None:
            return
        if None in record:
            raise EventsFormatError(f"{source}: row {number} has more fields than the header")
        missing = [name for name in names if record.get(name) is None]
        if missing:
            raise EventsFormatError(
                f"{source}: row {number} ends before column {column_name(missing[0])} "
                f"({len(names) - len(missing)} of {len(names)} fields; a cut row?)"
            )
        yield record, f"{source}: row {number}"
        number += 1


def read_events(inputs: Iterable[str | Path | Mapping[str, Any]], first_number: int = 1) -> list[Event]:
    """Events from files (any accepted kind) and/or row dicts (any accepted record kind). A raw
    record that holds several rows (its reader's `split`) gives one event per row."""
    events: list[Event] = []
    number = first_number
    splitters = [reader for _, reader in raw_readers() if reader.split is not None]
    for item in inputs:
        if isinstance(item, Mapping):
            for part in _parts(item, splitters):
                unreadable: dict[str, str] = {}
                table, row = record_to_row(part, f"event {number}", unreadable)
                events.append(Event(table, row, "<rows>", number, unreadable))
                number += 1
            continue
        path = Path(item)
        text = read_text(path)
        for record, where in _records_from_text(text, str(path)):
            for part in _parts(record, splitters):
                unreadable = {}
                table, row = record_to_row(part, where, unreadable)
                events.append(Event(table, row, str(path), number, unreadable))
                number += 1
    return events


def _parts(record: Any, splitters: list[RawRecordReader]) -> list[Any]:
    """The records a raw record holding several rows splits into (the reader that reads it, when it
    declares `split`), else the record itself."""
    if not splitters or not isinstance(record, Mapping) or not any(r.recognise(record) for r in splitters):
        return [record]
    raw = raw_reader_of(record)
    if raw is None or raw[1].split is None:
        return [record]
    return list(raw[1].split(record))


def check_readable(events: Iterable[Event], reads: Callable[[str], set[str]]) -> None:
    """Raise EventsFormatError (file, row and column) for the first value that does not read in a
    column some rule reads; `reads(table)` names the columns the rules on `table` read. A value
    no rule reads stays null and does not stop the run."""
    read: dict[str, set[str]] = {}
    for event in events:
        if not event.unreadable:
            continue
        if event.table not in read:
            read[event.table] = reads(event.table)
        for column, reason in event.unreadable.items():
            if column in read[event.table]:
                raise EventsFormatError(reason)
