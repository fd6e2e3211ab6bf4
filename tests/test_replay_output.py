"""Replay's JSON report is the text ``json.dumps(..., indent=2, default=str)`` writes, and an
event's id is the same read one event at a time or a list at a time."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import example, given
from hypothesis import strategies as st

from sigma_azure_aks.commands.replay import indented_json
from sigma_azure_aks.replay.loaders import Event, event_ids

_SCALARS = (
    st.text()
    | st.integers()
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=True)
    | st.datetimes(min_value=datetime(1, 1, 1))
)
_NESTED = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_HITS = st.lists(st.text() | st.integers(), max_size=30)  # a rule's event ids
_ALERTS = st.lists(st.dictionaries(st.text(max_size=8), _NESTED, max_size=5), max_size=4)


@given(st.dictionaries(st.text(), _HITS | _ALERTS | _NESTED, max_size=6))
@example({})
@example({"r": []})
@example({"r": ["a\nb", 'q"\\', "\u2028é\U0001f600", 7, -3]})
@example({"r": [True, 1]})  # a bool is no id: the general path writes it
@example({"r": [{"window_start": datetime(2024, 5, 1, 9, 30), "metric": 1.5, "event_ids": ["x\ny"]}]})
def test_indented_json_is_what_json_dumps_writes(document: dict) -> None:
    assert indented_json(document) == json.dumps(document, indent=2, default=str)


def test_event_ids_read_each_table_id_column() -> None:
    events = [
        Event("SigninLogs", {"Id": "a1"}, "f", 1),
        Event("SigninLogs", {"Id": ""}, "f", 2),  # no id: the record number stands for it
        Event("AzureActivity", {"CorrelationId": "c", "_ItemId": "i9"}, "f", 3),
        Event("SigninLogs", {"Id": 42}, "f", 4),
        Event("SigninLogs", {}, "f", 5),
    ]
    assert event_ids(events) == [event.event_id for event in events]
    assert event_ids(events)[:2] == ["a1", 2] and event_ids(events)[3:] == ["42", 5]
