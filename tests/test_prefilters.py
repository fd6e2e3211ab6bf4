"""Term prefilters (`has` / `has_cs` before `contains`, `startswith`, `endswith`), cheap tests first
in a conjunction, and the sign-in union's legs filtering before they parse.

Exact strings for what is written, and properties for why it is exact: a prefilter never drops a
row its scan keeps, under a model of Kusto's documented term definition and under the replay
engine's own `has` and `contains`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_support import require_engine
from sigma.collection import SigmaCollection
from sigma.types import SpecialChars

from sigma_azure_aks import kql
from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql import NON_ASCII_CASE_PARTNERS, TERM_SEPARATORS, prefilter_term
from sigma_azure_aks.pipelines.transformations import UnionLeg, conjuncts, union_text
from sigma_azure_aks.semantics import glob_matcher


def _where(detection: str, service: str = "activitylogs") -> str:
    rule = (
        "title: t\nid: 5d0c1b3a-0000-4000-8000-000000000002\nstatus: test\n"
        f"logsource:\n    product: azure\n    service: {service}\n"
        f"detection:\n{detection}\nlevel: low\n"
    )
    (query,) = SentinelBackend().convert(SigmaCollection.from_yaml(rule))
    return query.split("\n| where ", 1)[1]


# ---- which term ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "kind", "cased", "expected"),
    [
        ("-Export-", "contains", False, "Export"),
        ("Export-", "contains", False, None),  # a `contains` value's first run may continue leftwards
        ("Export-", "startswith", False, "Export"),  # the start of the string bounds it
        ("/DELETE", "endswith", False, "DELETE"),
        ("/DELETE", "contains", False, None),
        ("/DELETE", "startswith", False, None),
        ("-abc-Portal-", "contains", False, "Portal"),  # the longest qualifying run
        ("-ab-", "contains", False, None),  # shorter than an indexed term
        ("a_Portal.b", "contains", False, None),  # the underscore is not counted as a separator
        ("é-Portal-", "contains", False, "Portal"),
        ("éPortal-", "contains", False, None),  # a non-ASCII neighbour is not a separator
        ("-Portalé", "contains", False, None),
        ("-admin-", "contains", False, None),  # `i` has non-ASCII case partners (İ, ı)
        ("-admin-", "contains", True, "admin"),  # compared exactly: no case partners to fear
        ("-token-", "contains", False, None),  # `k`: the Kelvin sign
        ("-users-", "contains", False, None),  # `s`: the long s
        ("-Export-", "eq", False, None),
        ("", "contains", False, None),
        ("a b c d", "contains", False, None),
        ('"quoted" word', "contains", False, "quoted"),  # `"` separates; `word` ends the value: unbounded
    ],
)
def test_prefilter_term(text: str, kind: str, cased: bool, expected: str | None) -> None:
    assert prefilter_term(text, kind, cased) == expected


def test_separators_are_ascii_punctuation_and_space_only() -> None:
    assert all(c.isascii() and not c.isalnum() for c in TERM_SEPARATORS)
    assert "_" not in TERM_SEPARATORS and " " in TERM_SEPARATORS


def test_case_partners_cover_every_one_to_one_case_mapping_onto_ascii() -> None:
    """Every non-ASCII character whose one-character upper or lower case, or case fold, is an
    ASCII letter is listed under that letter (Python's tables; DuckDB's are checked below)."""
    found: dict[str, set[str]] = {}
    for code in range(0x80, 0x110000):
        char = chr(code)
        for mapped in (char.lower(), char.upper(), char.casefold()):
            if len(mapped) == 1 and mapped.isascii() and mapped.isalpha():
                found.setdefault(mapped.lower(), set()).add(char)
    found["i"].add("\u0130")  # its simple lower case (UnicodeData.txt), which Python's lower() extends to two
    assert {letter: set(chars) for letter, chars in NON_ASCII_CASE_PARTNERS.items()} == found


# ---- what is written --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        (
            "    sel:\n        caller|contains: '-Export-'\n    condition: sel",
            '(Caller has "Export" and Caller contains "-Export-")',
        ),
        (
            "    sel:\n        caller|startswith: 'Export-'\n    condition: sel",
            '(Caller has "Export" and Caller startswith "Export-")',
        ),
        (
            "    sel:\n        caller|endswith: '@woodgrove.com'\n    condition: sel",
            '(Caller has "woodgrove" and Caller endswith "@woodgrove.com")',
        ),
        (
            "    sel:\n        caller|contains|cased: '-Admin-'\n    condition: sel",
            '(Caller has_cs "Admin" and Caller contains_cs "-Admin-")',
        ),
        (
            "    sel:\n        caller|contains: '-Export-'\n    condition: not sel",
            'not((Caller has "Export" and Caller contains "-Export-"))',
        ),
        # no qualifying term: the scan alone
        ("    sel:\n        caller|contains: 'Export'\n    condition: sel", 'Caller contains "Export"'),
        ("    sel:\n        caller|contains: '-admin-'\n    condition: sel", 'Caller contains "-admin-"'),
        # a member of a dynamic column: `has` would read its JSON text, so no prefilter
        (
            "    sel:\n        properties.message|contains: '-Export-'\n    condition: sel",
            'tostring(Properties_d.message) contains "-Export-"',
        ),
        # whole-value globs and keywords keep their form
        (
            "    sel:\n        caller: '-Export-*x'\n    condition: sel",
            'Caller matches regex "(?is)^-Export-.*x$"',
        ),
        ("    sel:\n        - '-Export-'\n    condition: sel", '* contains "-Export-"'),
    ],
)
def test_prefilter_written(detection: str, expected: str) -> None:
    assert _where(detection) == expected


def test_cheap_tests_first_in_a_conjunction() -> None:
    detection = (
        "    sel:\n        caller|re: 'a.c'\n        callerIpAddress: 10.0.0.1\n"
        "    kw:\n        - needle\n    sel2:\n        operationName: x\n    condition: kw and sel and sel2"
    )
    # column tests first; the regex and the full-row search after them, each group in the rule's order
    assert _where(detection) == (
        'OperationNameValue =~ "x" and * contains "needle" and '
        '(CallerIpAddress =~ "10.0.0.1" and Caller matches regex "a.c")'
    )


def test_disjunctions_keep_the_rule_order() -> None:
    detection = (
        "    sel:\n        caller|re: 'a.c'\n    sel2:\n        operationName: x\n    condition: sel or sel2"
    )
    assert _where(detection) == 'Caller matches regex "a.c" or OperationNameValue =~ "x"'


# ---- the prefilter never drops a row the scan keeps ----------------------------------------------------
_PARTNERS = "".join(NON_ASCII_CASE_PARTNERS.values())
_ALPHABET = "abcdefikstxyzABIKSZ0129" + "".join(sorted(TERM_SEPARATORS)) + "_é\u00df" + _PARTNERS
_texts = st.text(alphabet=_ALPHABET, max_size=12)
_kinds = st.sampled_from(["contains", "startswith", "endswith"])


def _case_variant(draw: st.DrawFn, text: str) -> str:
    """`text` with letters in other cases, and some replaced by a non-ASCII case partner."""
    out = []
    for char in text:
        choice = draw(st.integers(0, 3))
        partners = NON_ASCII_CASE_PARTNERS.get(char.lower(), "")
        if choice == 1:
            out.append(char.swapcase())
        elif choice == 2 and partners:
            out.append(draw(st.sampled_from(partners)))
        else:
            out.append(char)
    return "".join(out)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, str, bool, str]:
    """(value, kind, cased, candidate): candidates that often hold the value, in any case."""
    kind = draw(_kinds)
    words = draw(st.lists(st.text(alphabet="abcdefikstxyzABIKSZ0129", min_size=3, max_size=8), max_size=3))
    separators = draw(st.lists(st.sampled_from(sorted(TERM_SEPARATORS) + ["_", "é"]), min_size=4, max_size=4))
    value = separators[0] + separators[1].join(words) + separators[2] + draw(_texts)
    value = draw(st.sampled_from([value, value[1:], value[::-1]]))
    held = _case_variant(draw, value) if draw(st.booleans()) else value
    before = "" if kind == "startswith" else draw(_texts)
    after = "" if kind == "endswith" else draw(_texts)
    return value, kind, draw(st.booleans()), before + held + after


def _scan(value: str, kind: str, cased: bool) -> Callable[[str], bool]:
    """Sigma's `contains` / `startswith` / `endswith` of `value`, as the package matches values."""
    star = SpecialChars.WILDCARD_MULTI
    parts = {"contains": (star, value, star), "startswith": (value, star), "endswith": (star, value)}[kind]
    test = glob_matcher(parts, cased)
    assert test is not None
    return test


def _has(candidate: str, term: str, cased: bool, term_characters: str) -> bool:
    """`has` by the documented definition: some term of `candidate` (a maximal run of
    `term_characters`) equals `term`, case ignored as Sigma's matching ignores it."""
    whole = glob_matcher((term,), cased)
    assert whole is not None
    return any(whole(run) for run in re.findall(f"[{term_characters}]+", candidate))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_prefilter_never_drops_a_match_under_the_term_definition(case: tuple[str, str, bool, str]) -> None:
    value, kind, cased, candidate = case
    term = prefilter_term(value, kind, cased)
    if term is None:
        return
    if _scan(value, kind, cased)(candidate):
        # terms as runs of Unicode letters and digits, and as runs of ASCII ones: exact under both
        assert _has(candidate, term, cased, r"^\W_"), (candidate, term)
        assert _has(candidate, term, cased, "A-Za-z0-9"), (candidate, term)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    running = Engine()
    yield running
    running.close()


_OPERATORS = {
    ("contains", False): "contains",
    ("contains", True): "contains_cs",
    ("startswith", False): "startswith",
    ("startswith", True): "startswith_cs",
    ("endswith", False): "endswith",
    ("endswith", True): "endswith_cs",
}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_cases(), min_size=1, max_size=25))
def test_prefilter_never_drops_a_match_on_the_replay_engine(engine, cases) -> None:  # type: ignore[no-untyped-def]
    """The replay engine's own `has` / `has_cs` keeps every row its scan keeps."""
    start = engine.row_counts.get("AzureActivity", 0)
    engine.load("AzureActivity", [{"Caller": candidate} for _, _, _, candidate in cases])
    for offset, (value, kind, cased, candidate) in enumerate(cases):
        term = prefilter_term(value, kind, cased)
        if term is None:
            continue
        row = start + offset
        scan = f"Caller {_OPERATORS[(kind, cased)]} {kql.string_literal(value)}"
        lookup = f"Caller {'has_cs' if cased else 'has'} {kql.string_literal(term)}"
        scanned = set(engine.matches(f"AzureActivity\n| where {scan}"))
        if row in scanned:
            assert row in set(engine.matches(f"AzureActivity\n| where {lookup}")), (candidate, value, term)


# ---- the sign-in union ------------------------------------------------------------------------------------
_LEG = UnionLeg("Other", frozenset({"A", "B", "Status"}), ("Status",))
_PLAIN_LEG = UnionLeg("Plain", frozenset({"A"}), ())


@pytest.mark.parametrize(
    ("condition", "expected_leg"),
    [
        ('A =~ "x"', '(Other | where A =~ "x" | extend Status = todynamic(Status))'),
        # only the operands that read neither a parsed column nor a column the leg lacks
        (
            'A =~ "x" and tostring(Status.reason) contains "y" and C == "z"',
            '(Other | where A =~ "x" | extend Status = todynamic(Status))',
        ),
        ('A =~ "x" or B =~ "y"', '(Other | where A =~ "x" or B =~ "y" | extend Status = todynamic(Status))'),
        ('A =~ "x" or tostring(Status.r) == "y"', "(Other | extend Status = todynamic(Status))"),
        ('* contains "x"', "(Other | extend Status = todynamic(Status))"),
        # a literal naming a column is not a read
        ('A =~ "Status and C"', '(Other | where A =~ "Status and C" | extend Status = todynamic(Status))'),
        ('["C"] =~ "x"', "(Other | extend Status = todynamic(Status))"),
        (
            '(A =~ "x" and B =~ "y")',
            '(Other | where (A =~ "x" and B =~ "y") | extend Status = todynamic(Status))',
        ),
        # a column only the claimed table has: the leg could not resolve it
        ('A =~ "x" and D =~ "y"', '(Other | where A =~ "x" | extend Status = todynamic(Status))'),
        ('D =~ "y"', "(Other | extend Status = todynamic(Status))"),
    ],
)
def test_union_leg_filters_before_it_parses(condition: str, expected_leg: str) -> None:
    main = UnionLeg("Main", frozenset({"A", "D", "Status"}), ())
    text = union_text(main, (_LEG, _PLAIN_LEG, UnionLeg("Third", frozenset({"C"}), ())), condition)
    assert (
        text == f"union isfuzzy=true Main,\n    {expected_leg},\n    Plain,\n    Third\n| where {condition}"
    )


def test_conjuncts_split_only_the_top_level_and() -> None:
    assert conjuncts('a and (b or c) and d == " and "') == ["a", "(b or c)", 'd == " and "']
    assert conjuncts("a and b or c") == ["a and b or c"]
    assert conjuncts("not(a and b)") == ["not(a and b)"]


def test_sign_in_union_filters_the_non_interactive_leg_first() -> None:
    from sigma_azure_aks.batch import resolve_pipelines

    rule = (
        "title: t\nid: 5d0c1b3a-0000-4000-8000-000000000003\nstatus: test\n"
        "logsource:\n    product: azure\n    service: signinlogs\n"
        "detection:\n    sel:\n        UserAgent|contains: axios\n        Status.errorCode: 50053\n"
        "    condition: sel\nlevel: low\n"
    )
    backend = SentinelBackend(processing_pipeline=resolve_pipelines(("azure_signinlogs_all",)))
    (query,) = backend.convert(SigmaCollection.from_yaml(rule))
    legs = query.split(",\n    ")
    assert legs[1].startswith('(AADNonInteractiveUserSignInLogs | where UserAgent contains "axios" | extend ')
    assert legs[2].startswith("(AADServicePrincipalSignInLogs | extend ")  # it has no UserAgent column
