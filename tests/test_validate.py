"""`sigma-azure-aks validate` and validate_paths(): Microsoft's KQL parser over rules and .kql files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sigma_azure_aks import validate
from sigma_azure_aks.batch import PipelineError, resolve_pipelines
from sigma_azure_aks.commands import main
from sigma_azure_aks.commands.common import EXIT_FAILED, EXIT_MISSING_COMPONENT, EXIT_OK, EXIT_USAGE
from sigma_azure_aks.kql_parser import checker
from sigma_azure_aks.kql_parser.checker import KqlChecker
from sigma_azure_aks.validate import Problem, validate_paths

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGMA_AZURE_AKS_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "corpus" / "sigmahq" / "activitylogs"

RULE = """\
title: Caller test
id: 5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b
status: test
logsource:
    product: azure
    service: activitylogs
detection:
    sel:
        caller: alice@example.com
    condition: sel
level: low
"""


@pytest.fixture
def corpus(kql: KqlChecker) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"SigmaHQ corpus not found at {CORPUS} (set SIGMA_AZURE_AKS_SHARED)")
    return CORPUS


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_corpus_validates_clean(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(corpus)]) == EXIT_OK
    captured = capsys.readouterr()
    # only warnings (e.g. rules about AKS data-plane operations AzureActivity does not record)
    assert all(": SIGMA warning: " in line for line in captured.out.splitlines()), captured.out
    assert "35 queries checked, 0 with errors" in captured.err


def test_one_parser_process_for_the_whole_corpus(corpus: Path, kql: KqlChecker) -> None:
    before = kql.launches
    report = validate_paths([corpus], checker=kql)
    assert report.ok, [str(p) for p in report.problems]
    assert report.queries_checked == 35
    assert kql.launches == before == 1


def test_kql_file_with_unknown_column_fails_naming_it(
    kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, "bad.kql", 'AzureActivity\n| where Calle =~ "x"\n')
    write(tmp_path, "good.kql", 'AzureActivity\n| where Caller =~ "x"\n')
    assert main(["validate", str(tmp_path)]) == EXIT_FAILED
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines == [
        f"{bad}:2:9: KS142 The name 'Calle' does not refer to any known column, table, variable or function."
    ]
    assert "2 queries checked, 1 with errors" in captured.err


def test_rule_problem_names_file_and_rule_id_with_query_position(kql: KqlChecker, tmp_path: Path) -> None:
    rule = write(tmp_path, "caller.yml", RULE)
    narrow = KqlChecker({"AzureActivity": "(TimeGenerated:datetime)"})
    with narrow:
        report = validate_paths([rule], checker=narrow)
    assert not report.ok
    (problem,) = report.errors
    assert str(problem) == (
        f"{rule}:2:9: KS142 rule 5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b: The name 'Caller' does not refer "
        "to any known column, table, variable or function."
    )
    assert problem.rule_id == "5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b"
    assert (report.queries_checked, report.queries_with_errors) == (1, 1)


def test_conversion_failure_is_reported_and_fails_the_run(
    kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "good.yml", RULE)
    bad = write(tmp_path, "unknown_field.yml", RULE.replace("caller:", "noSuchField:"))
    assert main(["validate", str(tmp_path)]) == EXIT_FAILED
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert line.startswith(f"{bad}:1:1: SIGMA rule 'Caller test' (5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b): ")
    assert "'noSuchField'" in line
    assert "1 queries checked, 0 with errors, 1 rules failed to convert" in captured.err


def test_rule_error_is_reported_once_with_the_rule_id(kql: KqlChecker, tmp_path: Path) -> None:
    bad = write(tmp_path, "no_condition.yml", RULE.replace("    condition: sel\n", ""))
    report = validate_paths([bad], checker=kql)
    assert [str(p) for p in report.problems] == [
        f"{bad}:1:1: SIGMA rule 5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b: "
        "Sigma rule must contain at least one condition"
    ]
    assert report.conversion_failures == 1


def test_query_longer_than_an_analytics_rule_allows(kql: KqlChecker, tmp_path: Path) -> None:
    long_value = "x" * validate.max_query_length()
    rule = write(tmp_path, "long.yml", RULE.replace("alice@example.com", long_value))
    report = validate_paths([rule], checker=kql)
    (problem,) = report.errors
    assert (problem.code, problem.line, problem.column) == ("LENGTH", 1, 1)
    assert f"allows {validate.max_query_length()}" in problem.message
    assert report.queries_with_errors == 1


def test_conversion_warnings_are_shown_but_do_not_fail(kql: KqlChecker, tmp_path: Path) -> None:
    import warnings

    rule = write(tmp_path, "r.yml", RULE)
    real = validate.convert_rule

    def warn_then_convert(*args: object) -> object:
        warnings.warn("a doubtful rule", UserWarning, stacklevel=1)
        return real(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validate, "convert_rule", warn_then_convert)
        report = validate_paths([rule], checker=kql)
    assert report.ok
    assert [str(p) for p in report.problems] == [
        f"{rule}:1:1: SIGMA warning: rule 5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b: a doubtful rule"
    ]


def test_json_format(kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "bad.kql", "AzureActivity | where nope()")
    assert main(["validate", "--format", "json", str(tmp_path)]) == EXIT_FAILED
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert (data["queries_checked"], data["queries_with_errors"]) == (1, 1)
    assert [p["code"] for p in data["problems"]] == ["KS211"]
    assert data["problems"][0]["file"].endswith("bad.kql")


def test_pipeline_by_name(kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "r.yml", RULE)
    assert main(["validate", "-p", "azure_activity", str(tmp_path)]) == EXIT_OK
    assert "1 queries checked, 0 with errors" in capsys.readouterr().err


def test_unknown_pipeline_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-p", "no_such_pipeline", str(tmp_path)]) == EXIT_USAGE
    assert "unknown pipeline 'no_such_pipeline'" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="azure_activity"):
        resolve_pipelines(["no_such_pipeline"])


def test_pipeline_file_as_convert_takes_it(
    kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any pipeline `convert` accepts: here a pipeline YAML file that renames a field."""
    write(tmp_path, "r.yml", RULE.replace("caller:", "who:"))
    pipeline = write(
        tmp_path,
        "rename.yaml",
        "name: rename\npriority: 0\ntransformations:\n"
        "  - type: field_name_mapping\n    mapping:\n      who: caller\n",
    )
    assert main(["validate", "-p", str(pipeline), "-p", "azure_activity", str(tmp_path / "r.yml")]) == EXIT_OK
    assert "1 queries checked, 0 with errors" in capsys.readouterr().err


def test_backend_options_are_taken(kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "r.yml", RULE)
    assert main(["validate", "-O", "query_frequency=30m", str(tmp_path)]) == EXIT_OK
    assert main(["validate", "-O", "query_frequency", str(tmp_path)]) == EXIT_USAGE
    assert "error: option 'query_frequency' is not KEY=VALUE" in capsys.readouterr().err


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent")]) == EXIT_USAGE
    assert "no such file or folder" in capsys.readouterr().err


def test_empty_and_binary_kql_files_are_errors(kql: KqlChecker, tmp_path: Path) -> None:
    write(tmp_path, "empty.kql", "  \n")
    (tmp_path / "junk.kql").write_bytes(b"\xff\xfe\x00garbage")
    report = validate_paths([tmp_path], checker=kql)
    assert [(Path(p.file).name, p.code) for p in report.errors] == [
        ("empty.kql", "READ"),
        ("junk.kql", "READ"),
    ]
    assert not report.ok


def test_warnings_are_shown_but_do_not_fail(kql: KqlChecker, tmp_path: Path) -> None:
    write(tmp_path, "remote.kql", 'cluster("elsewhere").database("db").AzureActivity | take 1')
    report = validate_paths([tmp_path], checker=kql)
    assert report.ok
    (warning,) = report.problems
    assert warning.code == "KS207" and str(warning).startswith(
        f"{tmp_path / 'remote.kql'}:1:9: KS207 warning: "
    )


@pytest.mark.skipif(not validate.re2_available(), reason="google-re2 not installed (pySigma 1.x env)")
def test_regex_rejected_by_re2_is_an_error(kql: KqlChecker, tmp_path: Path) -> None:
    bad = write(
        tmp_path, "re.kql", 'AzureActivity\n| where Caller matches regex "(?<=a)b" and Level =~ "(?<=x)"'
    )
    report = validate_paths([bad], checker=kql)
    (problem,) = report.errors
    assert (problem.line, problem.column, problem.code) == (2, 30, "RE2")
    assert "(?<=" in problem.message
    assert report.regex_checked and not report.notes


@pytest.mark.skipif(validate.re2_available(), reason="google-re2 is installed")
def test_without_re2_regexes_are_skipped_with_a_note(kql: KqlChecker, tmp_path: Path) -> None:
    write(tmp_path, "re.kql", 'AzureActivity | where Caller matches regex "(?<=a)b"')
    report = validate_paths([tmp_path], checker=kql)
    assert report.ok
    assert report.notes == [validate.RE2_NOTE]


def test_regex_literal_positions_skip_comments_and_other_literals() -> None:
    query = (
        'T // "matches regex" here\n| where a matches regex @"x""y" and b == \'q\' and c matches regex "z"'
    )
    tokens = validate._literal_tokens(query)
    assert [(query[start], is_regex) for start, is_regex in tokens] == [
        ("@", True),
        ("'", False),
        ('"', True),
    ]


def test_missing_parser_exits_3_saying_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "r.yml", RULE)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(checker, "embedded_available", lambda: False)  # as without the [validate] extra
    assert main(["validate", str(tmp_path)]) == EXIT_MISSING_COMPONENT
    err = capsys.readouterr().err
    assert "pip install 'pySigma-pipeline-azure[validate]'" in err and "install Node.js" in err


def test_validates_without_node_in_the_embedded_engine(
    kql: KqlChecker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "r.yml", RULE)
    write(tmp_path, "bad.kql", 'AzureActivity\n| where Calle == "x"')
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(checker.ENGINE_ENV, raising=False)
    assert main(["validate", str(tmp_path)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'bad.kql'}:2:9: KS142 ") and "'Calle'" in out


def test_problem_line_format() -> None:
    assert str(Problem("a.kql", 3, 7, "KS142", "msg")) == "a.kql:3:7: KS142 msg"
