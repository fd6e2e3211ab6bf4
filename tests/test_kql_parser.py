"""Tests of the offline Kusto parser (npm @kusto/language-service-next 12.4.1, bundled, driven from Python
in the embedded engine, and in node where node is installed).

String literals as this parser (Kusto.Language) reads them, found by running it and by reading its
lexer (TokenParser.ScanStringEscape) and decoder (KustoFacts.DecodeEscapes):

* "..." and '...' understand backslash escapes: \\\\ \\" \\' (either quote, in either kind of
  literal), \\n \\r \\t, \\a \\b \\f \\v (BEL, BS, FF, VT), \\uXXXX (exactly 4 hex digits, any case),
  \\xHH (exactly 2 hex digits) and octal \\0 .. \\377.
  Any other character after a backslash (\\q, \\/, a space, \\8, \\9, \\u or \\x with too few digits)
  is not an escape: the literal ends there and the query gets KS001 "Missing: \\"".
* \\UXXXXXXXX (8 hex digits) is accepted by the lexer but NOT decoded: "\\U0001F600" reads as the
  9 characters "U0001F600". Octal is also unreliable ("\\18" gives U+0010, "\\400" gives U+0100,
  the lexer and the decoder disagree on where the escape ends). Writers should use neither.
* Characters outside the BMP (emoji) work raw inside "..."; so does a surrogate pair written as
  two escapes, "\\uD83D\\uDE00".
* A raw TAB, NUL, other C0 control, U+0085, U+2028 or U+2029 inside "..." is accepted as itself.
  A raw CR or LF ends the literal (KS001), in verbatim literals too. (Outside a literal, a raw
  U+2028 is not whitespace: KS002 "Unexpected".) The official docs only promise \\t \\n \\\\ and
  the quotes; the service itself may be stricter than this parser.
* @"..." and @'...' are verbatim: a backslash is itself, and the quote is doubled (@"a""b" is a"b).
* Adjacent literals, separated by nothing, spaces or // comments, are joined into one value:
  'it''s' is "its" (NOT "it's": doubling a quote only escapes it in a verbatim literal), and
  "x" 'y' is "xy". The checker reports such a compound literal as one value.
* ```...``` (and ~~~...~~~) is a multi-line literal: no escapes, raw line breaks allowed.
* h"..." / H@"..." (obfuscated literals) decode like "..." / @"...".
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_azure_aks.kql_parser import checker as checker_module
from sigma_azure_aks.kql_parser import embedded
from sigma_azure_aks.kql_parser.checker import (
    BUNDLE_DIR,
    ENGINE_ENV,
    NODE_MODULES_ENV,
    NPM_PACKAGE,
    PINNED_VERSION,
    Diagnostic,
    KqlChecker,
    KqlParserUnavailable,
    check_queries,
    find_node,
    find_node_modules,
    parser_files,
    resolve_engine,
)
from sigma_azure_aks.sources import TABLES

REPO = Path(__file__).resolve().parents[1]


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


@pytest.fixture(scope="module")
def node_kql() -> Iterator[KqlChecker]:
    """The same parser in a node process (the alternative engine); skips where node is missing."""
    checker = KqlChecker(engine="node")
    try:
        checker.start()
    except KqlParserUnavailable as exc:
        pytest.skip(str(exc))
    with checker:
        yield checker


# --- installation -------------------------------------------------------------------------------


def test_package_json_pins_the_version() -> None:
    manifest = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    assert manifest["dependencies"] == {NPM_PACKAGE: PINNED_VERSION}


def test_lock_file_names_no_registry_host() -> None:
    lock = (REPO / "package-lock.json").read_text(encoding="utf-8")
    assert '"resolved"' not in lock
    assert PINNED_VERSION in lock


def test_bundle_is_the_pinned_package_with_its_licences() -> None:
    manifest = json.loads((BUNDLE_DIR / "package.json").read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["version"], manifest["license"]) == (
        NPM_PACKAGE,
        PINNED_VERSION,
        "MIT",
    )
    licence = (BUNDLE_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Microsoft Corporation" in licence
    assert "Apache License" in (BUNDLE_DIR / "LICENSE-Bridge.NET").read_text(encoding="utf-8")
    files = parser_files()
    assert (files.runtime.name, files.library.name, files.version) == (
        "bridge.min.js",
        "Kusto.Language.Bridge.min.js",
        PINNED_VERSION,
    )


def test_bundle_is_byte_for_byte_the_npm_package() -> None:
    package = REPO / "node_modules" / NPM_PACKAGE
    if not package.is_dir():
        pytest.skip("no npm install to compare with (scripts/update_kql_bundle.sh makes one)")
    for name in ("bridge.min.js", "Kusto.Language.Bridge.min.js", "package.json"):
        assert (BUNDLE_DIR / name).read_bytes() == (package / name).read_bytes(), name


def test_loaded_package_is_the_pinned_version(kql: KqlChecker) -> None:
    assert kql.package_version() == PINNED_VERSION
    assert kql.engine == "embedded"


def test_env_var_without_package_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path))
    with pytest.raises(KqlParserUnavailable, match=rf"npm install {NPM_PACKAGE}@{PINNED_VERSION}"):
        find_node_modules()


def test_env_var_with_package_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / NPM_PACKAGE
    package.mkdir(parents=True)
    (package / "Kusto.Language.Bridge.js").write_text("", encoding="utf-8")
    (package / "package.json").write_text('{"version": "0.0.1"}', encoding="utf-8")
    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path))
    assert find_node_modules() == tmp_path
    files = parser_files()
    assert (files.runtime, files.library, files.version) == (
        package / "bridge.js",
        package / "Kusto.Language.Bridge.js",
        "0.0.1",
    )


def test_without_env_var_the_bundle_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    assert find_node_modules() is None
    assert parser_files().library.parent == BUNDLE_DIR


def test_missing_node_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(KqlParserUnavailable, match="install Node.js"):
        find_node()
    with pytest.raises(KqlParserUnavailable, match=r"pip install 'pySigma-pipeline-azure\[validate\]'"):
        KqlChecker(engine="node").errors("print 1")


def test_auto_engine_prefers_embedded_then_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    monkeypatch.setattr(checker_module, "embedded_available", lambda: True)
    assert resolve_engine() == "embedded"
    assert resolve_engine(node="/opt/node/bin/node") == "node"  # an explicit node executable
    monkeypatch.setattr(checker_module, "embedded_available", lambda: False)
    monkeypatch.setattr(checker_module.shutil, "which", lambda name: "/usr/bin/node")
    assert resolve_engine() == "node"
    monkeypatch.setattr(checker_module.shutil, "which", lambda name: None)
    with pytest.raises(KqlParserUnavailable, match=r"pip install 'pySigma-pipeline-azure\[validate\]'"):
        resolve_engine()


def test_engine_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "node")
    assert resolve_engine() == "node"
    assert resolve_engine("embedded") == "embedded"
    monkeypatch.setenv(ENGINE_ENV, "rhino")
    with pytest.raises(KqlParserUnavailable, match="unknown KQL engine 'rhino'"):
        resolve_engine()


def test_importing_the_plugin_does_not_load_the_engine() -> None:
    code = (
        "import sys, sigma.pipelines.azure_aks, sigma.backends.azure_aks, sigma_azure_aks.validate;"
        "print(sorted(m for m in sys.modules if 'mini_racer' in m))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_one_engine_per_process_each_checker_with_its_tables(kql: KqlChecker) -> None:
    kql.start()
    loads = embedded.loads
    with KqlChecker({"Narrow": "(a:string)"}, engine="embedded") as narrow:
        assert narrow.errors("Narrow | where a == 'x'") == []
        assert codes(narrow.errors("AzureActivity | take 1")) == ["KS204"]
        assert kql.errors("AzureActivity | take 1") == []
        assert codes(kql.errors("Narrow | take 1")) == ["KS204"]
    assert embedded.loads == loads


# --- diagnostics --------------------------------------------------------------------------------


def test_valid_query_has_no_error(kql: KqlChecker) -> None:
    query = 'AzureActivity\n| where OperationNameValue =~ "x" and Caller has_any ("a", "b")\n| take 10'
    assert kql.errors(query) == []


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_is_declared_with_all_its_columns(kql: KqlChecker, table: str) -> None:
    query = f"{table} | project {', '.join(TABLES[table])}"
    assert kql.errors(query) == []
    assert kql.result_columns(query) == list(TABLES[table])


def test_unknown_column_is_ks142_naming_it(kql: KqlChecker) -> None:
    query = 'AzureActivity | where Calle == "x"'
    (error,) = kql.errors(query)
    assert error.code == "KS142"
    assert "'Calle'" in error.message
    assert query[error.start : error.start + error.length] == "Calle"


def test_column_of_another_table_is_unknown(kql: KqlChecker) -> None:
    assert codes(kql.errors('AzureDiagnostics | where Caller == "x"')) == ["KS142"]


def test_unknown_function_is_ks211(kql: KqlChecker) -> None:
    (error,) = kql.errors('AzureActivity | where no_such_function(Caller) == "x"')
    assert error.code == "KS211"
    assert "no_such_function" in error.message


def test_syntax_error_has_line_and_column(kql: KqlChecker) -> None:
    query = 'AzureActivity\n| where Caller == "x" and\n| take 1'
    errors = kql.errors(query)
    assert errors
    first = errors[0]
    assert first.code == "KS006"  # Missing expression, just after "and" (25 characters)
    assert (first.line, first.column) == (2, 26)
    assert first.severity == "Error"
    assert str(first) == "2:26: Error KS006: Missing expression"


def test_positions_count_code_points_and_crlf_lines(kql: KqlChecker) -> None:
    query = 'print a = "😀😀"\r\n| extend b = zz'
    (error,) = kql.errors(query)
    assert query[error.start : error.start + error.length] == "zz"
    assert (error.line, error.column) == (2, 14)


def test_warnings_are_kept_but_are_not_errors(kql: KqlChecker) -> None:
    query = 'cluster("elsewhere").database("db").AzureActivity | take 1'
    diagnostics = kql.diagnostics(query)
    assert [(d.code, d.severity) for d in diagnostics] == [("KS207", "Warning")]
    assert not diagnostics[0].is_error
    assert kql.errors(query) == []


def test_check_queries_keys_by_label(kql: KqlChecker) -> None:
    found = check_queries([("good", "AKSAudit | take 1"), ("bad", "AKSAudit | where Nope")])
    assert found["good"] == []
    assert codes(found["bad"]) == ["KS142"]


@pytest.mark.parametrize("engine", ["embedded", pytest.param("node", marks=pytest.mark.slow)])
def test_one_start_serves_every_query(engine: str, request: pytest.FixtureRequest) -> None:
    checker: KqlChecker = request.getfixturevalue("kql" if engine == "embedded" else "node_kql")
    before = checker.launches
    for index in range(20):
        checker.errors(f'AzureActivity | where Caller == "{index}"')
    assert checker.launches == before == 1
    assert checker.engine == engine


@pytest.mark.parametrize("engine", ["embedded", pytest.param("node", marks=pytest.mark.slow)])
def test_closed_checker_starts_again(engine: str) -> None:
    checker = KqlChecker(engine=engine)
    try:
        checker.start()
    except KqlParserUnavailable as exc:
        pytest.skip(str(exc))
    checker.close()
    assert checker.errors("print 1") == []
    assert checker.launches == 2
    checker.close()


# --- result columns -----------------------------------------------------------------------------


def test_result_columns_of_a_filter_are_the_table_columns(kql: KqlChecker) -> None:
    columns = kql.result_columns('AzureActivity | where Caller =~ "x"')
    assert {"Caller", "_ResourceId", "CallerIpAddress"} <= set(columns)
    assert columns == list(TABLES["AzureActivity"])


def test_project_narrows_the_result_columns(kql: KqlChecker) -> None:
    query = 'AzureActivity | where Caller =~ "x" | project TimeGenerated, Caller, ip = CallerIpAddress'
    assert kql.result_columns(query) == ["TimeGenerated", "Caller", "ip"]


def test_analyze_gives_everything_at_once(kql: KqlChecker) -> None:
    analysis = kql.analyze('AKSAudit | where Verb == "create" | project Verb, x = nope')
    assert codes(analysis.errors) == ["KS142"]
    assert analysis.columns == ["Verb", "x"]
    assert analysis.literals == ["create"]


# --- string literals ----------------------------------------------------------------------------

DECODED = [
    (r'"a\"b"', 'a"b'),
    (r'"a\\b"', "a\\b"),
    (r'@"c:\x"', "c:\\x"),
    ("'it''s'", "its"),
    (r"'it\'s'", "it's"),
    (r'"it\'s"', "it's"),
    ("@'it''s'", "it's"),
    ('@"a""b"', 'a"b'),
    (r'"\n"', "\n"),
    (r'"\r\t"', "\r\t"),
    (r'"\a\b\f\v"', "\a\b\f\v"),
    (r'"\u00e9\u00E9"', "éé"),
    (r'"\x41"', "A"),
    (r'"\0\101"', "\0A"),
    (r'"\uD83D\uDE00"', "😀"),
    ('"😀"', "😀"),
    (r'"\U0001F600"', "U0001F600"),
    ('"a\tb"', "a\tb"),
    ('"a\u2028b\u2029c\x85d"', "a\u2028b\u2029c\x85d"),
    ('"a\x00b\x1fc"', "a\x00b\x1fc"),
    ("\"x\" 'y'", "xy"),
    ('"x" // comment\n"y"', "xy"),
    ('```a"b\\n\nc```', 'a"b\\n\nc'),
    ('h"secret"', "secret"),
]


@pytest.mark.parametrize(("literal", "value"), DECODED)
def test_string_literal_decoding(kql: KqlChecker, literal: str, value: str) -> None:
    query = f"print v = {literal} | take 1"
    assert kql.errors(query) == []
    assert kql.string_literals(query) == [value]


@pytest.mark.parametrize("literal", [r'"\q"', r'"\/"', r'"\ "', r'"\8"', r'"\x4"', r'"\u00e"'])
def test_unknown_escapes_end_the_literal(kql: KqlChecker, literal: str) -> None:
    assert "KS001" in codes(kql.errors(f"print v = {literal}"))


@pytest.mark.parametrize("literal", ['"a\rb"', '"a\nb"', '@"a\nb"', "'a\r\nb'"])
def test_raw_line_breaks_end_the_literal(kql: KqlChecker, literal: str) -> None:
    assert "KS001" in codes(kql.errors(f"print v = {literal}"))


def test_literals_are_listed_in_order(kql: KqlChecker) -> None:
    query = 'AzureActivity | where Caller in ("a", @"b\\") and Caller startswith "c" | extend d = "d"'
    assert kql.string_literals(query) == ["a", "b\\", "c", "d"]


def test_lone_surrogate_survives_the_round_trip(kql: KqlChecker) -> None:
    assert kql.string_literals(r'print v = "\ud800"') == ["\ud800"]


# --- both engines -------------------------------------------------------------------------------

SAME_ANSWER = [
    'AzureActivity\n| where OperationNameValue =~ "x" and Caller has_any ("a", "b")\n| take 10',
    'AzureActivity | where Calle == "x"',
    'print a = "😀😀"\r\n| extend b = zz',
    'cluster("elsewhere").database("db").AzureActivity | take 1',
    'AKSAudit | where Verb == "create" | project Verb, x = nope',
    r'print v = "\ud800"',
    *(f"print v = {literal} | take 1" for literal, _ in DECODED),
]


def test_embedded_and_node_engines_answer_alike(kql: KqlChecker, node_kql: KqlChecker) -> None:
    for query in SAME_ANSWER:
        assert kql.analyze(query) == node_kql.analyze(query), query
