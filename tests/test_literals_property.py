"""Property: any string in any value position comes out as a KQL literal that Microsoft's parser
decodes to exactly that string, and the structure of the query does not change.

Rules are written as Sigma YAML (the way users write them): the intended plain string is turned
into Sigma value text by escaping `\\`, `*` and `?` (Sigma's escape character and wildcards), then
dumped with PyYAML. For every example: the parser reports no error, the result columns are the
AzureActivity columns, the query is `AzureActivity\\n| where <one line>`, the string literals are
exactly the expected values (count and content), and the structure checks of test_corpus_parser
(no literal where a column belongs) hold. For glob values the literal is a regex; it must decode to
a pattern that fully matches the texts the glob stands for.

One parser (the session's embedded engine) serves every example; the examples checked are counted and
reported at the end of the module.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.types import SigmaString
from test_corpus_parser import check_left_operands, literal_roles, tokenize

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql import json_text, prefilter_term, string_literal
from sigma_azure_aks.kql_parser.checker import KqlChecker, KqlParserUnavailable
from sigma_azure_aks.kql_reserved import RESERVED_WORDS
from sigma_azure_aks.sources import TABLES

TABLE = "AzureActivity"
COLUMNS = list(TABLES[TABLE])
# Size knob: large in CI (CI=true, or SIGMA_AZURE_AKS_LARGE=1), small locally.
LARGE = os.environ.get("CI", "").lower() == "true" or bool(os.environ.get("SIGMA_AZURE_AKS_LARGE"))
EXAMPLES = 400 if LARGE else 100  # per property: about 4,000 examples in all in CI
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that have broken quoting somewhere: quotes, escapes, comment and pipe starts, line
# breaks of every kind, NUL and other controls, Sigma wildcards, non-BMP and non-ASCII.
SPECIAL = list("\"'\\|/*?\n\r\t\x00\x01\x1b\x7f\x85\u2028\u2029\ufeff @`$()[]{}~;#%") + [
    "//",
    "\\\\",
    '\\"',
    "\\u0041",
    "''",
    '""',
    "```",
    "😀",
    "\U0010fffd",
    "é",
    "Ǆ",
    "İ",
]
ANY_CHAR = st.characters(blacklist_categories=("Cs",))  # every code point a YAML file can hold
TEXT = st.lists(st.one_of(st.sampled_from(SPECIAL), ANY_CHAR), min_size=1, max_size=12).map("".join)

# Sigma fields and how the target reads them: a column, a member of a dynamic column, a bracketed
# claim name, a member of a JSON text column.
FIELDS = [
    "caller",
    "properties.message",
    "identity.claims.http://schemas.example/claims/upn",
    "httpRequest.uri",
]

checked: Counter[str] = Counter()


def sigma_text(plain: str) -> str:
    """Sigma value text that means exactly `plain` (no wildcards)."""
    return plain.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def rule_yaml(detection: dict[str, object]) -> str:
    rule = {
        "title": "Property test",
        "id": "9d7c2a51-5a0e-4c1b-8f3e-2b6d7e8f9a0b",
        "status": "test",
        "logsource": {"product": "azure", "service": "activitylogs"},
        "detection": detection,
        "level": "low",
    }
    # allow_unicode=False: PyYAML writes U+0085 raw and reads it back as a line break otherwise
    text = yaml.safe_dump(rule, allow_unicode=False, sort_keys=False)
    assert yaml.safe_load(text) == rule  # the YAML layer keeps every value
    return text


@pytest.fixture(scope="module")
def kql(report) -> Iterator[KqlChecker]:
    checker = KqlChecker()
    try:
        checker.start()
    except KqlParserUnavailable as exc:
        pytest.skip(str(exc))
    started = time.monotonic()
    with checker:
        yield checker
    summary = ", ".join(f"{name} {count}" for name, count in sorted(checked.items()))
    line = (
        f"literal round trip: {sum(checked.values())} hypothesis examples checked by Kusto's parser "
        f"in {time.monotonic() - started:.1f} s, {checker.launches} parser start(s), {checker.engine} engine ({summary})"
    )
    report(line)  # shown even when output is captured: the number of examples is part of the result


@pytest.fixture(scope="module")
def backend() -> SentinelBackend:
    return SentinelBackend()


def convert(backend: SentinelBackend, detection: dict[str, object]) -> str:
    [query] = backend.convert(SigmaCollection.from_yaml(rule_yaml(detection)))
    assert isinstance(query, str)
    return query


def check(kql: KqlChecker, query: str, expected: list[str] | None, name: str) -> list[str]:
    """The structure checks; returns the decoded literals (compared with `expected` when given)."""
    assert query.startswith(f"{TABLE}\n| where "), query
    assert query.count("\n") == 1 and "\r" not in query, "a literal broke the line"
    analysis = kql.analyze(query)
    assert analysis.errors == [], f"{query!r}: {[str(e) for e in analysis.errors]}"
    assert analysis.columns == COLUMNS
    tokens = tokenize(query)
    assert [t.value for t in tokens if t.kind == "str"] == analysis.literals
    roles = literal_roles(tokens)
    assert check_left_operands(tokens, set(COLUMNS)) >= 1
    values = [literal for literal, role in zip(analysis.literals, roles, strict=True) if role == "value"]
    if expected is not None:
        assert values == expected, query
    checked[name] += 1
    return values


# ---- the precondition: Sigma value text means the intended string ----------------------------


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_sigma_escaping_gives_back_the_plain_string(plain: str) -> None:
    parts = SigmaString(sigma_text(plain)).s
    assert "".join(p for p in parts if isinstance(p, str)) == plain
    assert all(isinstance(p, str) for p in parts)


# ---- values -------------------------------------------------------------------------------------

MODIFIERS = {
    "": lambda v: v,
    "|contains": lambda v: v,
    "|startswith": lambda v: v,
    "|endswith": lambda v: v,
}


@given(
    plain=TEXT,
    field=st.sampled_from(FIELDS),
    modifier=st.sampled_from(sorted(MODIFIERS)),
    cased=st.booleans(),
)
@SETTINGS
def test_value_round_trips(
    kql: KqlChecker, backend: SentinelBackend, plain: str, field: str, modifier: str, cased: bool
) -> None:
    key = f"{field}{modifier}{'|cased' if cased else ''}"
    query = convert(backend, {"sel": {key: sigma_text(plain)}, "condition": "sel"})
    check(kql, query, with_term(query, plain, modifier.lstrip("|"), cased), f"value{modifier or '|eq'}")


def with_term(query: str, plain: str, kind: str, cased: bool) -> list[str]:
    """The value literals a string test writes: the term lookup first where the query has one (on a
    string column), then the value."""
    term = prefilter_term(plain, kind, case_sensitive=cased)
    looked_up = term is not None and any(
        f" {operator} {string_literal(term)} and " in query for operator in ("has", "has_cs")
    )
    return ([term] if looked_up else []) + [plain]


@pytest.mark.slow
@given(plain=TEXT)
@SETTINGS
def test_value_with_sigma_wildcards_spelled_out_round_trips(
    kql: KqlChecker, backend: SentinelBackend, plain: str
) -> None:
    # contains/startswith/endswith written as wildcards in the value itself
    for text, kind in [(f"*{sigma_text(plain)}*", "contains"), (f"{sigma_text(plain)}*", "startswith")]:
        query = convert(backend, {"sel": {"caller": text}, "condition": "sel"})
        check(kql, query, with_term(query, plain, kind, cased=False), "value*")


@pytest.mark.slow
@given(values=st.lists(TEXT, min_size=1, max_size=4, unique=True), cased=st.booleans())
@SETTINGS
def test_list_round_trips(kql: KqlChecker, backend: SentinelBackend, values: list[str], cased: bool) -> None:
    key = "properties.message|cased" if cased else "properties.message"
    query = convert(backend, {"sel": {key: [sigma_text(v) for v in values]}, "condition": "sel"})
    check(kql, query, values, "list")


@pytest.mark.slow
@given(values=st.lists(TEXT, min_size=1, max_size=3))
@SETTINGS
def test_keyword_round_trips(kql: KqlChecker, backend: SentinelBackend, values: list[str]) -> None:
    query = convert(backend, {"keywords": [sigma_text(v) for v in values], "condition": "keywords"})
    # a keyword with `\\`, `"` or a control character is searched in its JSON spelling too
    expected = [s for v in values for s in ([v] if json_text(v) == v else [v, json_text(v)])]
    check(kql, query, expected, "keyword")


@pytest.mark.slow
@given(key=TEXT.filter(lambda k: "|" not in k), plain=TEXT)
@SETTINGS
def test_claim_name_round_trips_as_a_member_key(
    kql: KqlChecker, backend: SentinelBackend, key: str, plain: str
) -> None:
    """`claims.<name>`: the claim name is a string literal too, in a bracketed member access."""
    query = convert(backend, {"sel": {f"claims.{key}": sigma_text(plain)}, "condition": "sel"})
    tokens = tokenize(query)
    literals = kql.string_literals(query)
    assert [t.value for t in tokens if t.kind == "str"] == literals
    if literal_roles(tokens) == ["value"]:  # a plain identifier needs no brackets
        assert f"tostring(Claims_d.{key}) " in query
        assert literals == [plain]
    else:
        assert literal_roles(tokens) == ["key", "value"]
        assert literals == [key, plain]
    check(kql, query, [plain], "claim key")


# ---- patterns ------------------------------------------------------------------------------------

RE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regex_text(plain: str) -> str:
    """A regex that matches `plain` literally (escaping only RE2's metacharacters)."""
    return RE_META.sub(r"\\\1", plain)


@pytest.mark.slow
@given(plain=TEXT, flags=st.sampled_from(["", "|i", "|s", "|i|m"]), wildcard=st.sampled_from(["", ".*"]))
@SETTINGS
def test_regex_round_trips(
    kql: KqlChecker, backend: SentinelBackend, plain: str, flags: str, wildcard: str
) -> None:
    pattern = regex_text(plain) + wildcard
    query = convert(backend, {"sel": {f"caller|re{flags}": pattern}, "condition": "sel"})
    prefix = "(?" + "".join(sorted(flags.replace("|", ""))) + ")" if flags else ""
    (decoded,) = check(kql, query, None, "regex")
    assert decoded == prefix + pattern
    assert re.fullmatch(decoded, plain + ("tail" if wildcard else ""))


@pytest.mark.slow
@given(head=TEXT, tail=TEXT, wildcard=st.sampled_from(["*", "?"]), cased=st.booleans())
@SETTINGS
def test_glob_decodes_to_the_regex_the_value_implies(
    kql: KqlChecker, backend: SentinelBackend, head: str, tail: str, wildcard: str, cased: bool
) -> None:
    value = f"{sigma_text(head)}{wildcard}{sigma_text(tail)}"
    query = convert(backend, {"sel": {f"caller{'|cased' if cased else ''}": value}, "condition": "sel"})
    (pattern,) = check(kql, query, None, "glob")
    middle = "some\nthing" if wildcard == "*" else "\n"
    assert re.fullmatch(pattern, head + middle + tail), (value, pattern)
    assert bool(re.fullmatch(pattern, head + tail)) is (wildcard == "*")
    assert not re.fullmatch(pattern, "x" + head + middle + tail + "\x00")  # anchored at both ends
    if not cased:
        assert pattern.startswith("(?is)^")
    else:
        assert pattern.startswith("(?s)^")


# ---- fixed cases the strategies might miss -----------------------------------------------------

EDGE_CASES = [
    "",
    "it''s",
    "a'b\"c",
    "back\\slash\\",
    "\\",
    "\\*\\?",
    "a // not a comment",
    "x | take 1",
    '" | project Caller //',
    "line\nbreak",
    "cr\rlf\r\n",
    "nul\x00byte",
    "\u2028\u2029\x85",
    "😀\U0010fffd",
    "\\u0041\\x41\\101",
    '@"verbatim"',
    "```",
    "\t",
]


@pytest.mark.parametrize("plain", EDGE_CASES)
def test_edge_case_round_trips(kql: KqlChecker, backend: SentinelBackend, plain: str) -> None:
    query = convert(backend, {"sel": {"caller": sigma_text(plain)}, "condition": "sel"})
    check(kql, query, [plain], "edge")


def test_a_trailing_newline_never_passes_as_a_plain_name() -> None:
    """Python's `$` matches before a final newline: names are checked whole."""
    from sigma_azure_aks import kql

    assert kql.member_access("Claims_d", ["A\n"]) == 'Claims_d["A\\n"]'
    assert not kql.is_column_name("Caller\n")
    assert not kql.is_member_access("Claims_d.a\n")


# ---- member names, booleans, integers, long lists (every query through the parser) ---------------

IDENTIFIER = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
MEMBER = st.one_of(st.sampled_from(sorted(RESERVED_WORDS)), IDENTIFIER, TEXT.filter(lambda k: "." not in k))
MEMBER_SHAPES = {
    "eq": lambda name: {name: "x"},
    "empty": lambda name: {name: ""},
    "exists": lambda name: {f"{name}|exists": True},
    "not exists": lambda name: {f"{name}|exists": False},
    "null": lambda name: {name: None},
    "true": lambda name: {name: True},
    "number": lambda name: {name: 7},
    "compare": lambda name: {f"{name}|gte": 2**53},
    "list": lambda name: {name: ["", "a", "b*"]},
}


@pytest.mark.slow
@given(
    member=MEMBER,
    prefix=st.sampled_from(["properties.", "properties.a.", "authorization.", "httpRequest.", "claims."]),
    shape=st.sampled_from(sorted(MEMBER_SHAPES)),
    negated=st.booleans(),
)
@SETTINGS
def test_any_member_name_in_any_shape_parses(
    kql: KqlChecker, backend: SentinelBackend, member: str, prefix: str, shape: str, negated: bool
) -> None:
    """Reserved words, identifiers and arbitrary text as member names, in every member test."""
    if "|" in member or (prefix == "claims." and not member):
        return
    selection = MEMBER_SHAPES[shape](prefix + member)
    query = convert(backend, {"sel": selection, "condition": "not sel" if negated else "sel"})
    check(kql, query, None, f"member {shape}")


@given(value=st.booleans(), field=st.sampled_from(FIELDS), listed=st.booleans())
@SETTINGS
def test_boolean_values_parse(
    kql: KqlChecker, backend: SentinelBackend, value: bool, field: str, listed: bool
) -> None:
    query = convert(backend, {"sel": {field: [value, "x"] if listed else value}, "condition": "sel"})
    word = "true" if value else "false"
    check(kql, query, [word, "x"] if listed else [word], "boolean")


AROUND_2_53 = st.integers(2**53 - 64, 2**53 + 64) | st.integers(-(2**53) - 64, -(2**53) + 64)


@pytest.mark.slow
@given(number=AROUND_2_53 | st.integers(-(2**63), 2**63 - 1), op=st.sampled_from(["", "|gt", "|lte"]))
@SETTINGS
def test_integers_convert_exactly_or_are_refused(
    kql: KqlChecker, backend: SentinelBackend, number: int, op: str
) -> None:
    """An integer pySigma keeps exact converts (tolong from 2^53 on) and parses; one it rounds is
    refused, never compared as a different number."""
    collection = SigmaCollection.from_yaml(
        rule_yaml({"sel": {f"properties.code{op}": number}, "condition": "sel"})
    )
    if int(float(number)) != number:
        with pytest.raises(Exception, match="arrives rounded"):
            backend.convert(collection)
        checked["integer refused"] += 1
        return
    [query] = backend.convert(collection)
    assert str(number) in query
    assert ("tolong(" in query) is (abs(number) >= 2**53), query
    check(kql, query, [], "integer")


LIST_LENGTHS = st.sampled_from([1, 2, 63, 64, 65, 492, 493, 494, 2000]) | st.integers(1, 2000)


@pytest.mark.slow
@given(
    count=LIST_LENGTHS,
    modifier=st.sampled_from(["", "|contains", "|startswith", "|endswith", "|re", "|contains|all"]),
    glob=st.booleans(),
)
@settings(max_examples=24 if LARGE else 8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_long_value_lists_parse(
    kql: KqlChecker, backend: SentinelBackend, count: int, modifier: str, glob: bool
) -> None:
    """Any list length gives a query Kusto's parser accepts (no KS245 syntax depth)."""
    import warnings

    values = [f"v{i}" + ("*x" if glob and modifier == "" else "") for i in range(count)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a query over 10,000 characters warns
        query = convert(backend, {"sel": {f"caller{modifier}": values}, "condition": "sel"})
    analysis = kql.analyze(query)
    assert analysis.errors == [], [str(e) for e in analysis.errors[:3]]
    checked[f"list of up to {2000}"] += 1
