"""Broken rules next to good ones: one line per bad file naming it and the cause, good rules converted.

The bad corpus is `tests/bad_rules/` plus a 10 MB rule generated here. It goes through
`sigma-azure-aks validate`, through the batch converter, and through sigma-cli (`sigma convert -t
sentinel <folder>`), whose behaviour on such folders is pinned below for the record:

* YAML it cannot parse (malformed, binary junk): a Python traceback, exit 1, nothing converted.
* Rule-level errors pySigma finds while loading (no detection, no condition, unknown modifier):
  "Errors found in Sigma rules" with one `* <cause> in <file>` line each, exit 1, nothing
  converted, with or without `--skip-unsupported`.
* Errors our target raises (unknown field, a log source with no table): the first one aborts the
  run (exit 1, nothing printed); with `-s` each is listed under "Ignored errors", the good rules
  are converted and the exit code is 0.
* An empty file is skipped silently; a 10 MB rule is converted (exit 0) though no analytics rule
  can hold its query.

Bad events files go through `sigma-azure-aks replay` on both of its paths (an export scanned by the
engine, events loaded in Python for a correlation): one line, exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_azure_aks.batch import convert_paths
from sigma_azure_aks.commands import main
from sigma_azure_aks.commands.common import EXIT_FAILED, EXIT_USAGE
from sigma_azure_aks.kql_parser.checker import KqlChecker, KqlParserUnavailable

BAD_RULES = Path(__file__).resolve().parent / "bad_rules"
GOOD = ("good_cloudshell.yml", "good_properties_message.yml")
HUGE = "huge_10mb.yml"
HUGE_SIZE = 10 * 1024 * 1024
# bad file -> what its one-line error must say
CAUSES = {
    "binary_junk.yml": "not a UTF-8 text file",
    "empty.yml": "empty file",
    "malformed_yaml.yml": "not valid YAML: line 10, column 13",
    "missing_condition.yml": "must contain at least one condition",
    "missing_detection.yml": "must have a detection",
    "unknown_field.yml": "field 'callerName' has no AzureActivity column",
    "unknown_modifier.yml": "Unknown modifier 'sometimes'",
    "windows_process_creation.yml": (
        "no Sentinel table for log source (category: process_creation, product: windows)"
    ),
}
SIGMA_CLI = Path(sys.executable).with_name("sigma")
SLOW_TESTS_ENV = "SIGMA_AZURE_AKS_SLOW_TESTS"


def huge_rule() -> str:
    """A valid rule of 10 MB: one operationName value of ten million characters."""
    head = (
        "title: Huge rule\nid: 0b6d2a0e-3333-4a4a-8a8a-000000000001\nstatus: test\n"
        "logsource:\n    product: azure\n    service: activitylogs\n"
        "detection:\n    sel:\n        operationName: '"
    )
    tail = "'\n    condition: sel\nlevel: low\n"
    return head + "A" * (HUGE_SIZE - len(head) - len(tail)) + tail


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The bad corpus and the two good rules, copied."""
    target = tmp_path / "bad_rules"
    shutil.copytree(BAD_RULES, target)
    return target


@pytest.fixture
def folder_with_huge(folder: Path) -> Path:
    """The same and the 10 MB rule."""
    (folder / HUGE).write_text(huge_rule(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def parser_available() -> Iterator[None]:
    checker = KqlChecker()
    try:
        checker.start()
    except KqlParserUnavailable as exc:
        pytest.skip(str(exc))
    checker.close()
    yield


def test_the_corpus_is_complete() -> None:
    assert sorted(p.name for p in BAD_RULES.iterdir()) == sorted([*GOOD, *CAUSES])
    assert (BAD_RULES / "empty.yml").stat().st_size == 0
    assert b"\x00" in (BAD_RULES / "binary_junk.yml").read_bytes()
    assert len(huge_rule()) == HUGE_SIZE


@pytest.mark.slow
def test_validate_reports_each_bad_file_on_one_line(
    folder_with_huge: Path, parser_available: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = folder_with_huge
    assert main(["validate", str(folder)]) == EXIT_FAILED
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    by_file: dict[str, list[str]] = {}
    for line in lines:
        by_file.setdefault(Path(line.split(":", 1)[0]).name, []).append(line)
    assert sorted(by_file) == sorted([*CAUSES, HUGE])
    for name, cause in CAUSES.items():
        (line,) = by_file[name]
        assert line.startswith(f"{folder / name}:1:1: SIGMA "), line
        assert cause in line, line
    (huge_line,) = by_file[HUGE]
    assert huge_line.startswith(f"{folder / HUGE}:1:1: LENGTH rule 0b6d2a0e-3333-4a4a-8a8a-000000000001: ")
    assert "3 queries checked, 1 with errors, 8 rules failed to convert" in captured.err


def test_batch_converts_every_good_rule_and_names_every_bad_file(folder: Path) -> None:
    result = convert_paths([folder])
    assert sorted(c.path.name for c in result.converted) == sorted(GOOD)
    assert not result.ok
    assert {f.path.name for f in result.failures} == set(CAUSES)
    for failure in result.failures:
        line = failure.line()
        assert "\n" not in line and line.startswith(f"{folder / failure.path.name}: ")
        assert CAUSES[failure.path.name] in line


# ---- sigma-cli on the same files ------------------------------------------------------------------

needs_sigma_cli = pytest.mark.skipif(not SIGMA_CLI.is_file(), reason="sigma-cli not installed beside python")


def sigma_convert(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SIGMA_CLI), "convert", "-t", "sentinel", *options, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def with_goods(tmp_path: Path, *names: str) -> Path:
    target = tmp_path / "rules"
    target.mkdir()
    for name in (*GOOD, *names):
        shutil.copy(BAD_RULES / name, target / name)
    return target


@needs_sigma_cli
def test_sigma_cli_fails_on_the_whole_bad_folder(folder: Path) -> None:
    result = sigma_convert(folder)
    assert result.returncode != 0
    assert "AzureActivity" not in result.stdout  # nothing converted, not even the good rules


@needs_sigma_cli
@pytest.mark.parametrize("name", ["malformed_yaml.yml", "binary_junk.yml"])
def test_sigma_cli_crashes_on_unparsable_files(tmp_path: Path, name: str) -> None:
    result = sigma_convert(with_goods(tmp_path, name))
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stdout == ""


@needs_sigma_cli
@pytest.mark.parametrize("name", ["missing_condition.yml", "missing_detection.yml", "unknown_modifier.yml"])
@pytest.mark.parametrize("options", [(), ("-s",)])
def test_sigma_cli_stops_at_rule_errors(tmp_path: Path, name: str, options: tuple[str, ...]) -> None:
    folder = with_goods(tmp_path, name)
    result = sigma_convert(folder, *options)
    assert result.returncode == 1
    assert f"{CAUSES[name].split()[0]}" in result.stderr and f"in {folder / name}" in result.stderr
    assert result.stdout == ""


@needs_sigma_cli
@pytest.mark.parametrize("name", ["unknown_field.yml", "windows_process_creation.yml"])
def test_sigma_cli_conversion_errors(tmp_path: Path, name: str) -> None:
    folder = with_goods(tmp_path, name)
    aborted = sigma_convert(folder)
    assert aborted.returncode == 1
    assert CAUSES[name] in aborted.stderr and aborted.stdout == ""
    skipped = sigma_convert(folder, "-s")
    assert skipped.returncode == 0
    assert "Ignored errors" in skipped.stderr and CAUSES[name] in skipped.stderr
    assert skipped.stdout.count("AzureActivity\n| where") == len(GOOD)


@needs_sigma_cli
def test_sigma_cli_skips_an_empty_file_silently(tmp_path: Path) -> None:
    result = sigma_convert(with_goods(tmp_path, "empty.yml"))
    assert result.returncode == 0
    assert result.stdout.count("AzureActivity\n| where") == len(GOOD)
    assert "empty" not in result.stderr


@needs_sigma_cli
@pytest.mark.skipif(not os.environ.get(SLOW_TESTS_ENV), reason=f"slow (about 40 s); set {SLOW_TESTS_ENV}=1")
def test_sigma_cli_converts_the_10mb_rule(tmp_path: Path) -> None:
    folder = with_goods(tmp_path)
    (folder / HUGE).write_text(huge_rule(), encoding="utf-8")
    result = sigma_convert(folder)
    assert result.returncode == 0
    assert result.stdout.count("AzureActivity\n| where") == len(GOOD) + 1
    assert len(result.stdout) > 10_000_000


# ---- events files (replay) ---------------------------------------------------------------------------
# A rule whose query is scanned over an export, and a correlation, which loads every event in Python:
# the two paths an events file takes through `sigma-azure-aks replay`.
_SCANNED_RULE = (
    "title: Writes\nid: 0b6d2a0e-3333-4a4a-8a8a-000000000010\nstatus: test\n"
    "logsource:\n    product: azure\n    service: activitylogs\n"
    "detection:\n    sel:\n        operationName: X/WRITE\n    condition: sel\n"
)
_CORRELATION = (
    _SCANNED_RULE.replace("status: test\n", "status: test\nname: writes\n")
    + "---\ntitle: Many writes\nid: 0b6d2a0e-3333-4a4a-8a8a-000000000011\nstatus: test\n"
    "correlation:\n    type: event_count\n    rules: [writes]\n    group-by: [caller]\n"
    "    timespan: 1h\n    condition: {gte: 2}\n"
)
_LATE = 400  # rows before the bad one: past what the export scan reads of a file's head


def _not_utf8_events(path: Path, kind: str, late: bool) -> tuple[int, int]:
    """Write an events file with the byte 0xE9 (Latin-1 'é') in the value of its last row; returns the
    line and column (1-based, in bytes) of that byte."""
    good = _LATE if late else 0
    if kind == "csv":
        lines = ["OperationNameValue,EventDataId,Caller"] + [f"X/WRITE,id-{i},bob" for i in range(good)]
        bad = b"X/WRITE,id-bad,caf\xe9"
    else:
        lines = [f'{{"$table": "AzureActivity", "OperationNameValue": "X/WRITE", "EventDataId": "id-{i}"}}'
                 for i in range(good)]
        bad = b'{"$table": "AzureActivity", "OperationNameValue": "X/WRITE", "Caller": "caf\xe9"}'
    path.write_bytes("".join(line + "\n" for line in lines).encode() + bad + b"\n")
    return len(lines) + 1, bad.index(b"\xe9") + 1


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("late", [False, True], ids=["first-row", "late-row"])
@pytest.mark.parametrize("rules", [_SCANNED_RULE, _CORRELATION], ids=["scanned", "loaded"])
def test_an_events_file_that_is_not_utf8_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, late: bool, rules: str
) -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    rule = tmp_path / "rule.yml"
    rule.write_text(rules)
    events = tmp_path / f"events.{kind}"
    line, column = _not_utf8_events(events, kind, late)
    assert main(["replay", str(rule), "--events", str(events)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"error: {events}: not a UTF-8 text file: byte 0xE9 at line {line}, column {column} "
        "does not read as UTF-8; "
        "save the events as UTF-8 (Log Analytics exports are UTF-8)"
    ]


# Records of a kind replay does not know, as a storage account holds them beside known ones.
_FOREIGN_RECORDS = {
    "key-vault": {"time": "2021-04-28T14:45:53Z", "category": "AuditEvent", "operationName": "VaultGet",
                  "resourceId": "/SUBSCRIPTIONS/S1/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1", "properties": {}},
    "kube-apiserver": {"time": "2021-04-28T14:45:53Z", "category": "kube-apiserver",
                       "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
                       "properties": {"log": "I0420 started", "pod": "kube-apiserver-1"}},
}


@pytest.mark.parametrize("name", list(_FOREIGN_RECORDS))
@pytest.mark.parametrize("rules", [_SCANNED_RULE, _CORRELATION], ids=["scanned", "loaded"])
def test_a_record_replay_does_not_know_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, rules: str
) -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    rule = tmp_path / "rule.yml"
    rule.write_text(rules)
    events = tmp_path / "events.jsonl"
    known = {"time": "2021-04-28T14:45:53Z", "category": "Write", "operationName": "X/WRITE", "properties": {}}
    events.write_text(json.dumps(known) + "\n" + json.dumps(_FOREIGN_RECORDS[name]) + "\n")
    assert main(["replay", str(rule), "--events", str(events)]) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    category = _FOREIGN_RECORDS[name]["category"]
    assert line.startswith(f"error: {events}: line 2: not an event replay knows (category {category!r}; keys "), line
