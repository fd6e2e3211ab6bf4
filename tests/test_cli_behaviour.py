"""What every `sigma-azure-aks` command does at its edges: exit codes, messages, warnings, --events."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from replay_support import require_engine

from sigma_azure_aks.commands import COMMANDS, RULE_COMMANDS, main
from sigma_azure_aks.commands.common import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Progress,
    WarningPrinter,
)
from sigma_azure_aks.notices import RuleWarning

REPO = Path(__file__).resolve().parents[1]
RULE = """\
title: Pods deleted
id: 0b6d2a0e-1111-4a4a-8a8a-000000000001
status: test
logsource:
    product: azure
    service: activitylogs
detection:
    sel:
        operationName: MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/PODS/DELETE
    condition: sel
level: medium
tags:
    - attack.impact
    - attack.lunch-break
"""
LABEL = "rule 'Pods deleted' (0b6d2a0e-1111-4a4a-8a8a-000000000001)"
DATAPLANE_LINE = (
    f"warning: {LABEL}: Kubernetes data-plane operations are not in AzureActivity (the query likely "
    "never fires); convert with -p aks_dataplane"
)
EVENTS = json.dumps({"$table": "AzureActivity", "EventDataId": "e1", "OperationNameValue": "X"}) + "\n"


def extra_arguments(command: str, tmp_path: Path) -> list[str]:
    """What a command needs besides its paths."""
    if command == "export":
        return ["--out", str(tmp_path / "out")]
    if command == "replay":
        events = tmp_path / "events.jsonl"
        events.write_text(EVENTS, encoding="utf-8")
        return ["--events", str(events)]
    return []


def needs(command: str) -> None:
    if command == "replay":
        require_engine()


@pytest.fixture
def rule(tmp_path: Path) -> Path:
    path = tmp_path / "rules" / "pods.yml"
    path.parent.mkdir()
    path.write_text(RULE, encoding="utf-8")
    return path


# ---- one exit-code table ----------------------------------------------------------------------------


def test_exit_code_table_is_documented_as_it_is() -> None:
    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d) \| (.+) \|$", text, re.MULTILINE))
    assert {int(code): meaning for code, meaning in rows.items()} == EXIT_CODES


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {' '.join(meaning.split())}" in out


# ---- paths --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_path_is_a_usage_error_in_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs(command)
    absent = tmp_path / "absent"
    assert main([command, str(absent), *extra_arguments(command, tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: no such file or folder: {absent}\n"


@pytest.mark.parametrize("command", sorted(RULE_COMMANDS))
def test_no_rules_found_fails_in_every_command(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs(command)
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "README.md").write_text("no rules here", encoding="utf-8")
    assert main([command, str(folder), *extra_arguments(command, tmp_path)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("error: no Sigma rules (.yml, .yaml") and err.endswith(f"found in {folder}\n")


# ---- warnings -----------------------------------------------------------------------------------------


def test_warning_is_one_line_with_details_behind_verbose(
    rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", str(rule)]) == EXIT_OK
    err = capsys.readouterr().err.splitlines()
    assert err == [
        DATAPLANE_LINE,
        "note: --verbose shows the details of 1 warning(s)",
        "1 rules converted, 0 failed",
    ]
    assert main(["convert", "--verbose", str(rule)]) == EXIT_OK
    err = capsys.readouterr().err.splitlines()
    assert err[0] == DATAPLANE_LINE
    details = " ".join(line.strip() for line in err[1:-1])
    assert all(line.startswith("    ") for line in err[1:-1])
    assert details == (
        "Operations: MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/PODS/DELETE. They are Kubernetes data-plane "
        "operations (Azure RBAC DataActions); AzureActivity records Azure Resource Manager operations "
        "only. -p aks_dataplane translates them to the AKS audit log (AKSAudit)."
    )


def test_export_warns_once_per_rule_though_it_renders_three_formats(
    rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["export", str(rule), "--out", str(out), "-f", "yaml,arm,json"]) == EXIT_OK
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warned == [
        DATAPLANE_LINE,
        f"warning: {LABEL}: tag 'attack.lunch-break' is no ATT&CK tactic Sentinel knows, so it is left out; "
        "use a tactic tag (docs/formats.md lists them)",
    ]


@pytest.mark.parametrize("command", ["convert", "export"])
def test_unknown_option_key_is_a_usage_error_naming_it(
    command: str, rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, str(rule), "-O", "query_freqency=30m", "-O", "colour=blue"]
    assert main(args + extra_arguments(command, tmp_path)) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: option 'query_freqency' is not an analytics-rule setting; did you mean 'query_frequency'? "
        "(docs/formats.md lists the settings)\n"
    )


def test_option_without_value_is_a_usage_error(rule: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(rule), "-O", "query_frequency"]) == EXIT_USAGE
    assert capsys.readouterr().err == "error: option 'query_frequency' is not KEY=VALUE\n"


def test_unknown_option_key_under_sigma_cli_is_refused(rule: Path) -> None:
    sigma = Path(sys.executable).with_name("sigma")
    if not sigma.is_file():
        pytest.skip("sigma-cli not installed beside python")
    done = subprocess.run(
        [str(sigma), "convert", "-t", "sentinel", "-O", "kind=nrt", "-O", "query_freqency=30m", str(rule)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    # our line (the nearest setting, the known ones), then sigma-cli's usage error naming the key
    assert [line for line in lines if "query_freqency" in line] == [
        "sigma_azure_aks:0: SentinelOptionWarning: backend option 'query_freqency' is not an analytics-rule "
        "setting; did you mean 'query_frequency'? (docs/formats.md lists the settings)",
        "Error: Invalid value for backend_option: Parameter 'query_freqency' is not supported by backend "
        "'sentinel'.",
    ]
    assert not done.stdout


def test_warning_during_progress_starts_a_line_of_its_own() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(2, "Converting", stream)
    progress.advance()
    with WarningPrinter(progress=progress, stream=stream):
        warnings.warn(RuleWarning("rule 'r' (1): what; what to do", "more"), stacklevel=1)
        warnings.warn(RuleWarning("rule 'r' (1): what; what to do", "more"), stacklevel=1)  # shown once
    progress.advance()
    progress.close()
    text = stream.getvalue()
    assert "1/2\r\x1b[Kwarning: rule 'r' (1): what; what to do\n" in text
    assert text.count("warning: ") == 1
    assert text.endswith("2/2\n")


# ---- validate -----------------------------------------------------------------------------------------


def test_validate_lists_conversion_warnings_only_with_verbose(
    kql: object, rule: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(rule)]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "note: 1 conversion warning(s) not listed (--verbose lists them)" in captured.err
    assert "warning:" not in captured.err
    assert main(["validate", "--verbose", str(rule)]) == EXIT_OK
    captured = capsys.readouterr()
    first, *details = captured.out.splitlines()
    assert first == f"{rule}:1:1: SIGMA warning: " + DATAPLANE_LINE.removeprefix("warning: ")
    assert details and all(line.startswith("    ") for line in details)
    assert "warning:" not in captured.err


# ---- replay --events ----------------------------------------------------------------------------------


def test_rules_after_events_are_rules(rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_engine()
    events = tmp_path / "events.jsonl"
    events.write_text(EVENTS, encoding="utf-8")
    other = tmp_path / "rules" / "other.yml"
    other.write_text(RULE.replace("0001", "0002"), encoding="utf-8")
    assert main(["replay", "--events", str(events), str(rule.parent), "-f", "json"]) == EXIT_OK
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["replay", str(rule), "--events", str(events), str(other), "-f", "json"]) == EXIT_OK
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_events_are_repeatable(rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_engine()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(EVENTS, encoding="utf-8")
    second.write_text(EVENTS.replace("e1", "e2"), encoding="utf-8")
    assert main(["replay", str(rule), "--events", str(first), "--events", str(second)]) == EXIT_OK
    assert "2 events" in capsys.readouterr().err


def test_second_events_file_after_one_events_is_a_clear_usage_error(
    rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_engine()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.csv"
    first.write_text(EVENTS, encoding="utf-8")
    second.write_text("EventDataId\ne2\n", encoding="utf-8")
    assert main(["replay", str(rule), "--events", str(first), str(second)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: {second} looks like an events file, not Sigma rules: give each events file its own "
        "--events (--events a.csv --events b.json)\n"
    )


def test_rules_given_as_events_are_a_clear_usage_error(
    rule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_engine()
    assert main(["replay", str(rule), "--events", str(rule.parent)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"error: --events {rule.parent}: an events file is expected, not a folder; --events takes one "
        "file, and the rules are the other arguments\n"
    )
    assert main(["replay", str(rule), "--events", str(rule)]) == EXIT_USAGE
    assert "not a Sigma rule" in capsys.readouterr().err


def test_unknown_option_after_events_is_still_unknown(rule: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(rule), "--events", str(rule), "--frobnicate"])
    assert exit_info.value.code == EXIT_USAGE
    assert "unrecognized arguments: --frobnicate" in capsys.readouterr().err


def test_every_rule_warning_class_shows_its_line_alone() -> None:
    from sigma_azure_aks.analytics.model import SentinelMappingWarning
    from sigma_azure_aks.analytics.options import SentinelOptionWarning
    from sigma_azure_aks.pipelines.aks_audit import AksAuditWarning
    from sigma_azure_aks.pipelines.aks_dataplane import AksDataPlaneWarning

    for category in (AksDataPlaneWarning, AksAuditWarning, SentinelMappingWarning, SentinelOptionWarning):
        assert issubclass(category, RuleWarning)
        warning = category("rule 'r' (1): what; what to do", "details")
        assert (str(warning), warning.details) == ("rule 'r' (1): what; what to do", "details")
