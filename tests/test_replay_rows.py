"""The facts of a Log Analytics row, read once (`replay/rows.py`): a header's column, a row's table,
and a datetime's value, whose SQL twin (the export scan's) reads every export format as the Python
reading does (a property test through DuckDB)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma_azure_aks.replay.rows import (
    column_name,
    datetime_sql,
    read_datetime,
    table_of_row,
)
from sigma_azure_aks.sources import all_sources

DIGITS = st.text("0123456789", min_size=1, max_size=9)


@st.composite
def portal_datetimes(draw: Any) -> str:
    """The portal's CSV export: `4/28/2021, 2:32:14.029 PM`, fraction digits as it writes them
    (three) and more or fewer."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
    fraction = draw(st.sampled_from(["", ".", *(f".{{:0{n}d}}" for n in (1, 3, 6, 7))]))
    if fraction not in ("", "."):
        fraction = fraction.format(draw(st.integers(0, 10 ** (len(fraction.format(0)) - 1) - 1)))
    hour = moment.hour % 12 or 12
    return (
        f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S}{fraction} "
        f"{'AM' if moment.hour < 12 else 'PM'}"
    )


@st.composite
def iso_datetimes(draw: Any) -> str:
    """JSON exports and the query API: ISO 8601 with 0-12 fraction digits (Kusto writes 7; both
    readings cut those past the sixth), `Z`, an offset or no zone, `T` or a space."""
    moment = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)))
    digits = draw(st.integers(0, 12))
    fraction = "." + draw(st.text("0123456789", min_size=digits, max_size=digits)) if digits else ""
    zone = draw(st.sampled_from(["", "Z", "+00:00", "+02:00", "-05:30", "+0100", "-1200", "+14:00"]))
    separator = draw(st.sampled_from(["T", " "]))
    return f"{moment:%Y-%m-%d}{separator}{moment:%H:%M:%S}{fraction}{zone}"


@st.composite
def damaged(draw: Any, texts: st.SearchStrategy[str]) -> str:
    """A datetime text with one character replaced, dropped or added: mostly not a datetime."""
    text = draw(texts)
    at = draw(st.integers(0, len(text) - 1))
    edit = draw(st.sampled_from(["replace", "drop", "add"]))
    other = draw(st.sampled_from(list("0123456789:/-.,TZ+ AMPx")))
    if edit == "replace":
        return text[:at] + other + text[at + 1 :]
    if edit == "drop":
        return text[:at] + text[at + 1 :]
    return text[:at] + other + text[at:]


DATETIME_TEXTS = st.one_of(portal_datetimes(), iso_datetimes())
PADDED = st.tuples(
    st.sampled_from(["", " ", "\t", "\r\n "]), DATETIME_TEXTS, st.sampled_from(["", " ", "\n"])
).map("".join)


@pytest.fixture(scope="module")
def duck() -> Any:
    duckdb = pytest.importorskip("duckdb", reason="replay engine (duckdb) not installed")
    return duckdb.connect()


def _python(text: str) -> datetime | None | str:
    try:
        return read_datetime(text)
    except ValueError:
        return "unread"


def _sql(duck: Any, texts: list[str], strict: bool = False) -> list[datetime | None | str]:
    """The SQL readings of `texts`; "unread" where a text is not '' and reads as NULL (or, with
    `strict`, where the reading fails)."""
    if strict:
        return [_strict(duck, text) for text in texts]
    rows = duck.execute(
        f"SELECT t, {datetime_sql('t')} "
        "FROM (SELECT unnest($1::VARCHAR[]) AS t, generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i",
        [texts],
    ).fetchall()
    return ["unread" if value is None and text != "" else value for text, value in rows]


def _strict(duck: Any, text: str) -> datetime | None | str:
    import duckdb

    try:
        return duck.execute(f"SELECT {datetime_sql('$1::VARCHAR', strict=True)}", [text]).fetchone()[0]
    except duckdb.Error:
        return "unread"


TEXTS = st.one_of(PADDED, damaged(DATETIME_TEXTS), st.just(""), st.just("  "))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXTS, min_size=1, max_size=40))
def test_the_sql_datetime_reading_equals_the_python_reading(duck: Any, texts: list[str]) -> None:
    """On every text of the export formats (and damaged ones), DuckDB's reading of the export scan
    gives the Python reading's value, or both find no datetime."""
    for text, sql in zip(texts, _sql(duck, texts), strict=True):
        assert sql == _python(text), text
    # the export scan's strict form: the same values, an error where no datetime reads
    sample = texts[:3]
    assert _sql(duck, sample, strict=True) == [_python(text) for text in sample]


def test_the_datetime_reading_on_known_texts() -> None:
    assert read_datetime("4/28/2021, 2:32:14.029 PM") == datetime(2021, 4, 28, 14, 32, 14, 29000)
    assert read_datetime("4/28/2021, 12:05:00 AM") == datetime(2021, 4, 28, 0, 5)
    assert read_datetime("2021-04-28T16:45:53.1234567+02:00") == datetime(2021, 4, 28, 14, 45, 53, 123456)
    assert read_datetime("2021-04-28T14:45:53Z") == datetime(2021, 4, 28, 14, 45, 53)
    assert read_datetime("") is None
    with pytest.raises(ValueError, match="not a datetime: '28.4.2021'"):
        read_datetime("28.4.2021")


def test_a_header_names_its_column() -> None:
    assert column_name("TimeGenerated [UTC]") == "TimeGenerated"
    assert column_name("TimeGenerated") == "TimeGenerated"
    assert column_name("Properties_d") == "Properties_d"


def test_a_row_names_its_table_by_name_then_by_markers() -> None:
    for source in all_sources():
        assert table_of_row({"$table": source.table}) == source.table
        assert table_of_row({"Type": source.table}) == source.table
        for marker in source.row_markers:
            first = next(s for s in all_sources() if marker in s.row_markers)
            assert table_of_row({marker: "x"}) == first.table
    assert table_of_row({"Type": "NoSuchTable", "x": 1}) is None


EXPORT_FORM_EDGES = [
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0999-06-30T12:00:00.5Z",
    "9999-12-31T23:59:59.999999Z",
    "2021-02-30T00:00:00Z",
    "2021-04-28T24:00:00Z",
    "2021-04-28T23:59:60Z",
    "2021-13-01T00:00:00Z",
    "2021-04-28T14:45:53.1234567Z",
    "2021-04-28T14:45:53.1234560Z",
    "2021-04-28T14:45:53.9999999Z",
    "9999-12-31T23:59:59.9999999Z",
    "0001-01-01T00:00:00.0000001Z",
    "2021-04-28T14:45:53.12345678901234567890Z",
    "2021-04-28T14:45:53.Z",
    "2024-02-29T01:02:03.000001Z",
]


@pytest.mark.parametrize("strict", [False, True], ids=["scan", "strict"])
def test_the_export_form_reads_as_the_python_reading_at_its_edges(duck: Any, strict: bool) -> None:
    """The form exports write (`2021-04-28T14:45:53.1234567Z`) takes one pattern and one cast: at
    the edges of years, dates, times and fraction digits (a seventh and further cut, never rounded
    up into the next second or year) it reads as the Python reading does."""
    assert _sql(duck, EXPORT_FORM_EDGES, strict=strict) == [_python(text) for text in EXPORT_FORM_EDGES]
