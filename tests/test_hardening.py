"""Rule shapes that once gave invalid or silently wrong KQL, each pinned three ways: the exact query,
Microsoft's parser on it, and what it matches on events (present, present-empty, JSON null, absent).

Booleans, `|exists` on dynamic members, the empty value, big integers, long alternatives, keywords
with `\\` or `"`, null inside a list, and the guard of the `convert`/`export` commands. Reserved
member names: tests/test_kql_reserved.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from replay_support import activity_rule, fired, require_engine
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma_helpers import rule_yaml, to_sentinel, where

from sigma_azure_aks.backend import MAX_QUERY_LENGTH, QueryTooLongWarning, SentinelBackend
from sigma_azure_aks.kql_parser.checker import KqlChecker

# One event per member state, for every member test below.
STATES = [
    {"EventDataId": "value", "Properties_d": {"m": "x"}},
    {"EventDataId": "empty", "Properties_d": {"m": ""}},
    {"EventDataId": "jnull", "Properties_d": {"m": None}},
    {"EventDataId": "absent", "Properties_d": {"other": "x"}},
    {"EventDataId": "nobag"},
]


def sel(body: str) -> str:
    return f"sel:\n    {body}\ncondition: sel"


def matches(detection: str, rows: list[dict], condition: str = "sel") -> set[str]:
    require_engine()
    return fired(activity_rule(detection, condition=condition), rows)


def refused(detection: str) -> str:
    with pytest.raises(SigmaError) as caught:
        to_sentinel(detection)
    return str(caught.value)


# ---- 1. booleans ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("properties.enabled: true", 'tostring(Properties_d.enabled) =~ "true"'),
        ("properties.enabled: false", 'tostring(Properties_d.enabled) =~ "false"'),
        ("caller: true", 'Caller =~ "true"'),
        (
            "properties.enabled: [true, 'yes']",
            'tostring(Properties_d.enabled) =~ "true" or tostring(Properties_d.enabled) =~ "yes"',
        ),
    ],
)
def test_boolean_exact(kql: KqlChecker, body: str, expected: str) -> None:
    query = to_sentinel(sel(body))
    assert where(query) == expected
    assert kql.errors(query) == []


def test_boolean_matches_json_boolean_and_its_spelling() -> None:
    rows = [
        {"EventDataId": "json_true", "Properties_d": {"enabled": True}},
        {"EventDataId": "text_true", "Properties_d": {"enabled": "True"}},
        {"EventDataId": "json_false", "Properties_d": {"enabled": False}},
        {"EventDataId": "text_false", "Properties_d": {"enabled": "FALSE"}},
        {"EventDataId": "json_null", "Properties_d": {"enabled": None}},
        {"EventDataId": "one", "Properties_d": {"enabled": 1}},
        {"EventDataId": "absent"},
    ]
    assert matches("sel:\n    properties.enabled: true", rows) == {"json_true", "text_true"}
    assert matches("sel:\n    properties.enabled: false", rows) == {"json_false", "text_false"}
    assert matches("sel:\n    properties.enabled: true", rows, "not sel") == {
        "json_false",
        "text_false",
        "json_null",
        "one",
        "absent",
    }


# ---- 3. exists on dynamic members ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("properties.m|exists: true", 'bag_has_key(Properties_d, "m")'),
        ("properties.a.b|exists: true", 'bag_has_key(Properties_d.a, "b")'),
        ("properties.m|exists: false", 'not(coalesce(bag_has_key(Properties_d, "m"), false))'),
        ("properties.some-key|exists: true", 'set_has_element(bag_keys(Properties_d), "some-key")'),
        (
            "claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn|exists: true",
            'set_has_element(bag_keys(Claims_d), "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")',
        ),
        (
            "httpRequest.clientRequestId|exists: true",
            'bag_has_key(parse_json(HTTPRequest), "clientRequestId")',
        ),
        ("caller|exists: true", "isnotempty(Caller)"),
    ],
)
def test_exists_exact(kql: KqlChecker, body: str, expected: str) -> None:
    query = to_sentinel(sel(body))
    assert where(query) == expected
    assert kql.errors(query) == []


def test_exists_is_presence_on_events() -> None:
    assert matches("sel:\n    properties.m|exists: true", STATES) == {"value", "empty", "jnull"}
    assert matches("sel:\n    properties.m|exists: false", STATES) == {"absent", "nobag"}
    assert matches("sel:\n    properties.m|exists: true", STATES, "not sel") == {"absent", "nobag"}


def test_exists_on_keys_with_dots_and_json_text() -> None:
    upn = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
    rows = [
        {"EventDataId": "claim", "Claims_d": {upn: None}, "HTTPRequest": '{"clientRequestId": ""}'},
        {"EventDataId": "none", "Claims_d": {"other": "x"}, "HTTPRequest": '{"x": 1}'},
    ]
    assert matches(f"sel:\n    claims.{upn}|exists: true", rows) == {"claim"}
    assert matches("sel:\n    httpRequest.clientRequestId|exists: true", rows) == {"claim"}


# ---- 4. the empty value ----------------------------------------------------------------------------
def test_empty_value_exact(kql: KqlChecker) -> None:
    query = to_sentinel(sel("properties.m: ''"))
    assert where(query) == '(isnotnull(Properties_d.m) and tostring(Properties_d.m) == "")'
    assert kql.errors(query) == []
    listed = to_sentinel(sel("properties.m: ['', 'a', 'b']"))
    assert where(listed) == (
        'tostring(Properties_d.m) in~ ("a", "b") or '
        '(isnotnull(Properties_d.m) and tostring(Properties_d.m) == "")'
    )
    assert where(to_sentinel(sel("caller: ''"))) == 'Caller =~ ""'  # a column: absent is ""


def test_empty_value_matches_only_a_present_empty_string() -> None:
    assert matches("sel:\n    properties.m: ''", STATES) == {"empty"}
    assert matches("sel:\n    properties.m: ['', 'x']", STATES) == {"empty", "value"}
    # null stays "absent or empty" (DESIGN: null)
    assert matches("sel:\n    properties.m: null", STATES) == {"empty", "jnull", "absent", "nobag"}
    # `sel and not filter` no longer drops the events without the member
    detection = "sel:\n    EventDataId|exists: true\nfilter:\n    properties.m: ''"
    assert matches(detection, STATES, "sel and not filter") == {"value", "jnull", "absent", "nobag"}


# ---- 5. integers -----------------------------------------------------------------------------------
BIG = 2**53 + 2  # 9007199254740994, a double: pySigma keeps it exact


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("properties.code: 404", "toreal(Properties_d.code) == 404"),
        ("properties.code: 1.5", "toreal(Properties_d.code) == 1.5"),
        (f"properties.code: {BIG}", f"tolong(Properties_d.code) == {BIG}"),
        (f"properties.code: {-BIG}", f"tolong(Properties_d.code) == {-BIG}"),
        (f"properties.code|gte: {BIG}", f"tolong(Properties_d.code) >= {BIG}"),
        ("properties.code|lt: 9007199254740991", "toreal(Properties_d.code) < 9007199254740991"),
    ],
)
def test_number_exact(kql: KqlChecker, body: str, expected: str) -> None:
    query = to_sentinel(sel(body))
    assert where(query) == expected
    assert kql.errors(query) == []


def test_big_integers_compare_exactly_on_events() -> None:
    rows = [
        {"EventDataId": "big", "Properties_d": {"code": BIG}},
        {"EventDataId": "big_text", "Properties_d": {"code": str(BIG)}},
        {"EventDataId": "next", "Properties_d": {"code": str(BIG + 1)}},
        {"EventDataId": "prev", "Properties_d": {"code": BIG - 1}},
        {"EventDataId": "small", "Properties_d": {"code": 5.5}},
        {"EventDataId": "absent"},
    ]
    assert matches(f"sel:\n    properties.code: {BIG}", rows) == {"big", "big_text"}
    assert matches(f"sel:\n    properties.code|gt: {BIG}", rows) == {"next"}
    assert matches(f"sel:\n    properties.code|gte: {BIG}", rows) == {"big", "big_text", "next"}
    assert matches(f"sel:\n    properties.code|lt: {BIG}", rows) == {"prev", "small"}
    assert matches(f"sel:\n    properties.code|lte: {BIG}", rows) == {"big", "big_text", "prev", "small"}
    assert matches("sel:\n    properties.code: 5", rows) == set()
    assert matches(f"sel:\n    properties.code: {BIG}", rows, "not sel") == {
        "next",
        "prev",
        "small",
        "absent",
    }


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("9007199254740993", "rounded to 9007199254740992.0"),
        ("123456789012345678901234567890", "rounded to 1.2345678901234568e+29"),
        ("9223372036854775808", "outside Kusto's long range"),
    ],
)
def test_integer_that_lost_precision_is_refused(value: str, said: str) -> None:
    message = refused(sel(f"properties.code: {value}"))
    assert "rule 'Test rule'" in message and "field 'properties.code'" in message
    assert said in message
    assert "field 'properties.code'" in refused(sel(f"properties.code|gt: {value}"))


# ---- 6. long alternatives ------------------------------------------------------------------------
def _values(modifier: str, count: int) -> str:
    if modifier == "|re":
        items = [f"v{i:04d} " for i in range(count)]
    elif modifier == "|startswith":
        items = [f"pre v{i:04d}" for i in range(count)]
    elif modifier == "":
        items = [f"*v{i:04d}*t" for i in range(count)]  # a glob: one regex each
    else:
        items = [f"v{i:04d} " for i in range(count)]
    return "\n".join(f"        - '{item}'" for item in items)


LONG_ROWS = [{"EventDataId": f"e{i}", "Caller": f"pre v{i:04d} post"} for i in (0, 491, 492, 1999)] + [
    {"EventDataId": "none", "Caller": "pre v9999 post"}
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("count", "modifier"),
    [
        (1, "|contains"),
        (492, "|endswith"),
        (493, "|contains"),
        (493, "|re"),
        (2000, "|startswith"),
        (2000, ""),
    ],
)
def test_long_alternatives_parse_and_match(kql: KqlChecker, count: int, modifier: str) -> None:
    detection = f"sel:\n    caller{modifier}:\n{_values(modifier, count)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryTooLongWarning)
        query = to_sentinel(f"{detection}\ncondition: sel")
        assert kql.errors(query) == []
        if (count, modifier) == (2000, "|startswith"):
            return  # parsed only: replaying 2,000 alternatives twice adds half a minute
        expected = {f"e{i}" for i in (0, 491, 492, 1999) if i < count}
        if modifier == "|endswith":
            expected = set()  # no value is at the end of "pre vNNNN post"
        assert matches(detection, LONG_ROWS) == expected


def test_long_chain_is_grouped_in_chains_of_64() -> None:
    detection = f"sel:\n    caller|contains:\n{_values('|contains', 130)}\ncondition: sel"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryTooLongWarning)
        text = where(to_sentinel(detection))
    assert text.startswith('(Caller contains "v0000 " or ')
    assert text.count("(") == 3 and ') or (Caller contains "v0064 " or ' in text
    assert text.endswith('or (Caller contains "v0128 " or Caller contains "v0129 ")')


def test_long_query_warns_for_plain_kql_and_fails_for_analytics() -> None:
    detection = f"sel:\n    caller|contains:\n{_values('|contains', 400)}\ncondition: sel"
    with pytest.warns(
        QueryTooLongWarning, match=rf"rule 'Test rule'.*characters, more than the {MAX_QUERY_LENGTH} a Sentinel analytics rule"
    ):
        to_sentinel(detection)
    backend = SentinelBackend()
    with pytest.raises(SigmaError, match=r"rule 'Test rule'.*the query is \d+ characters; Sentinel accepts"):
        backend.convert(SigmaCollection.from_yaml(rule_yaml(detection)), "yaml")


# ---- 7. keywords with \ or " ----------------------------------------------------------------------
def test_keyword_with_backslash_searches_both_spellings(kql: KqlChecker) -> None:
    query = to_sentinel("keywords:\n    - 'C:\\temp\\x'\ncondition: keywords")
    assert where(query) == '(* contains "C:\\\\temp\\\\x" or * contains "C:\\\\\\\\temp\\\\\\\\x")'
    assert kql.errors(query) == []
    quoted = to_sentinel("keywords:\n    - 'say \"hi\"'\ncondition: keywords")
    assert where(quoted) == '(* contains "say \\"hi\\"" or * contains "say \\\\\\"hi\\\\\\"")'
    assert where(to_sentinel('keywords:\n    - "it\'s"\ncondition: keywords')) == '* contains "it\'s"'


def test_keywords_with_escapes_are_found_in_dynamic_and_string_columns() -> None:
    rows = [
        {"EventDataId": "in_bag", "Properties_d": {"path": 'C:\\temp\\x "q" it\'s'}},
        {"EventDataId": "in_column", "Caller": 'C:\\temp\\x "q" it\'s'},
        {"EventDataId": "none", "Caller": "C:/temp/x"},
    ]
    for keyword in ("'C:\\temp\\x'", "'x \"q\"'", '"it\'s"'):
        assert matches(f"keywords:\n    - {keyword}", rows, "keywords") == {"in_bag", "in_column"}, keyword


# ---- 8. null inside a list ------------------------------------------------------------------------
def test_null_inside_a_list_is_refused() -> None:
    message = refused(sel("caller: [x, null]"))
    assert "rule 'Test rule'" in message
    assert "field 'caller' has null inside a list of values" in message
    assert "write `caller: null` in a selection of its own" in message


# ---- the guard of convert / export ------------------------------------------------------------------
def test_convert_and_export_never_write_a_query_the_parser_rejects(
    kql: KqlChecker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sigma_azure_aks.commands import main
    from sigma_azure_aks.commands.common import EXIT_FAILED

    rule = tmp_path / "rule.yml"
    rule.write_text(rule_yaml(sel("caller: x")), encoding="utf-8")

    finalize = SentinelBackend.finalize_query

    def broken(self, rule, query, index, state, output_format):  # a target bug, as the parser sees it
        return finalize(self, rule, query + " and", index, state, output_format)

    monkeypatch.setattr(SentinelBackend, "finalize_query", broken)
    assert main(["convert", str(rule)]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{rule}: rule 'Test rule'" in err
    assert "Microsoft's KQL parser rejects the query: " in err and "KS006" in err
    assert main(["export", "-f", "yaml", "-o", str(tmp_path / "out"), str(rule)]) == EXIT_FAILED
    assert "Microsoft's KQL parser rejects the query" in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.yaml"))


def test_guard_steps_aside_without_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sigma_azure_aks.batch import iter_convert
    from sigma_azure_aks.kql_parser.checker import NODE_MODULES_ENV
    from sigma_azure_aks.query_guard import QueryGuard

    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path))  # no package there
    rule = tmp_path / "rule.yml"
    rule.write_text(rule_yaml(sel("caller: x")), encoding="utf-8")
    guard = QueryGuard()
    [converted] = list(iter_convert([rule], guard=guard))
    assert converted.query.endswith('Caller =~ "x"')
    assert not guard.available
    assert json.dumps(guard.checked) == "0"


# ---- 9. messages -------------------------------------------------------------------------------------
def test_bad_regex_and_type_mismatch_read_as_one_plain_line_each(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from sigma_azure_aks.commands import main
    from sigma_azure_aks.commands.common import EXIT_FAILED

    (tmp_path / "re.yml").write_text(rule_yaml(sel("caller|re: '(('")), encoding="utf-8")
    (tmp_path / "number.yml").write_text(rule_yaml(sel("caller|contains: 5")), encoding="utf-8")
    (tmp_path / "bool.yml").write_text(rule_yaml(sel("callerIpAddress|cidr: true")), encoding="utf-8")
    assert main(["convert", str(tmp_path)]) == EXIT_FAILED
    out, err = capfd.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "0 rules converted, 3 failed"
    assert len(lines) == 4, lines  # one line per rule: no RE2/absl log lines
    assert "re2.cc" not in err and "absl" not in err and "b'" not in err
    by_file = {Path(line.split(": ", 2)[1]).name: line for line in lines[:-1]}
    assert "Regular expression '((' is invalid: missing )" in by_file["re.yml"]
    assert by_file["number.yml"].endswith(
        "field 'caller': the modifier |contains does not apply to the number 5; use a value of the "
        "type |contains expects (quote a number to use it as text)"
    )
    assert (
        "field 'callerIpAddress': the modifier |cidr does not apply to the boolean true"
        in by_file["bool.yml"]
    )
    assert "Sigma" not in err.replace("Sigma rule", "")  # no pySigma class names
