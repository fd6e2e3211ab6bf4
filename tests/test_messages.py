"""The messages at the edges where a newcomer meets the tool, each tested on its exact line: an unknown
field (the nearest names), a log source out of scope (the way forward), a rule outside the chosen
pipelines (the pipelines applied, the one that takes it), replay's notice of a table with no rows, and
the plugin name in `sigma list`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.commands import main
from sigma_azure_aks.messages import nearest_names
from sigma_azure_aks.pipelines import (
    aks_audit_pipeline,
    aks_dataplane_pipeline,
    azure_activity_pipeline,
    okta_pipeline,
)
from sigma_azure_aks.pipelines.kusto_pipelines import installed_kusto_pipelines
from sigma_azure_aks.sources import supported_logsources

PLUGIN = "azure_aks"
RULE_ID = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
LABEL = f"rule 'Edge' ({RULE_ID})"
LONGEST = 200  # characters of a message after the rule's label


def rule(logsource: str, detection: str) -> str:
    return (
        f"title: Edge\nid: {RULE_ID}\nstatus: test\nlogsource:\n{logsource}"
        f"detection:\n  sel:\n    {detection}\n  condition: sel\nlevel: low\n"
    )


ACTIVITY = "  product: azure\n  service: activitylogs\n"
KUBERNETES = "  product: kubernetes\n  service: audit\n"
WINDOWS = "  category: process_creation\n  product: windows\n"


def refusal(text: str, *pipelines: object) -> SigmaError:
    pipeline = None
    if pipelines:
        pipeline = pipelines[0]()
        for other in pipelines[1:]:
            pipeline = pipeline + other()  # type: ignore[operator]
    with pytest.raises(SigmaError) as error:
        SentinelBackend(pipeline).convert(SigmaCollection.from_yaml(text))
    return error.value


def after_label(error: BaseException) -> str:
    text = str(error)
    assert text.startswith(f"{LABEL}: ")
    line = text.removeprefix(f"{LABEL}: ")
    assert "\n" not in line and len(line) <= LONGEST, line
    return line


# ---- an unknown field ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logsource", "field", "line"),
    [
        (
            ACTIVITY,
            "operationNam",
            "field 'operationNam' has no AzureActivity column; did you mean 'operationName' or 'operationId'? "
            "docs/sources.md lists its columns; or map the field in your own pipeline",
        ),
        (
            ACTIVITY,
            "callerName",
            "field 'callerName' has no AzureActivity column; did you mean 'caller'? "
            "docs/sources.md lists its columns; or map the field in your own pipeline",
        ),
        (
            ACTIVITY,
            "Image",
            "field 'Image' has no AzureActivity column; "
            "docs/sources.md lists its columns; or map the field in your own pipeline",
        ),
        (
            "  product: azure\n  service: signinlogs\n",
            "ResultDescripton",
            "field 'ResultDescripton' has no SigninLogs column; did you mean 'ResultDescription'? "
            "docs/sources.md lists its columns; or map the field in your own pipeline",
        ),
        (
            KUBERNETES,
            "objectRef.nam",
            "field 'objectRef.nam' has no AKSAudit column; did you mean 'objectRef.name' or 'objectRef.namespace'? "
            "docs/sources.md lists its columns; or map the field in your own pipeline",
        ),
    ],
)
def test_unknown_field_names_the_nearest_fields(logsource: str, field: str, line: str) -> None:
    error = refusal(rule(logsource, f"{field}: x"))
    assert after_label(error) == line


def test_unknown_field_details_list_every_accepted_name_once() -> None:
    error = refusal(rule(ACTIVITY, "operationNam: x"))
    from sigma_azure_aks.sources import source_for_table

    source = source_for_table("AzureActivity")
    assert source is not None and source.field_map is not None
    assert error.details == f"AzureActivity accepts: {', '.join(source.field_map.supported_fields())}"  # type: ignore[attr-defined]


def test_fieldref_to_an_unknown_field_names_the_nearest() -> None:
    error = refusal(rule(ACTIVITY, "caller|fieldref: calerIpAddress"))
    assert after_label(error) == (
        "field 'calerIpAddress' referenced with |fieldref has no AzureActivity column; did you mean "
        "'callerIpAddress'? docs/sources.md lists its columns; or map the field in your own pipeline"
    )


def test_nearest_names_ignore_case_and_keep_each_spelling_once() -> None:
    assert nearest_names("CALLER", ["caller", "Caller", "callerIpAddress"]) == ["caller"]
    assert nearest_names("image", ["time", "level"]) == []


def test_convert_shows_the_field_list_only_with_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "edge.yml"
    path.write_text(rule(ACTIVITY, "operationNam: x"), encoding="utf-8")
    line = (
        f"error: {path}: {LABEL}: field 'operationNam' has no AzureActivity column; did you mean 'operationName' "
        "or 'operationId'? docs/sources.md lists its columns; or map the field in your own pipeline"
    )
    main(["convert", str(path)])
    assert capsys.readouterr().err.splitlines() == [
        line,
        "note: --verbose shows the details of 1 error(s)",
        "0 rules converted, 1 failed",
    ]
    main(["convert", "--verbose", str(path)])
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == line and lines[-1] == "0 rules converted, 1 failed"
    assert lines[1].startswith("    AzureActivity accepts: ActivityStatusValue, ")
    assert all(len(shown) <= 104 for shown in lines[1:])


def test_export_shows_the_field_list_only_with_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "edge.yml"
    path.write_text(rule(ACTIVITY, "callerName: x"), encoding="utf-8")
    line = (
        f"error: {path}: {LABEL}: field 'callerName' has no AzureActivity column; did you mean 'caller'? "
        "docs/sources.md lists its columns; or map the field in your own pipeline"
    )
    main(["export", str(path), "--out", str(tmp_path / "out")])
    assert capsys.readouterr().err.splitlines() == [
        line,
        "note: --verbose shows the details of 1 error(s)",
        "0 rules converted, 1 failed",
    ]
    main(["export", "--verbose", str(path), "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == line and lines[1].startswith("    AzureActivity accepts: ")


# ---- a log source out of scope, a rule outside the chosen pipelines ---------------------------------


def test_out_of_scope_log_source_names_the_installed_kusto_pipelines() -> None:
    error = refusal(rule(WINDOWS, "Image|endswith: '\\cmd.exe'"))
    takers = [p.identifier for p in installed_kusto_pipelines() if "process_creation" in p.categories]
    way = f"-t kusto -p {takers[0]} (or {', '.join(takers[1:])}) takes it (pySigma-backend-kusto)" if takers else ""
    assert after_label(error) == (
        "no Sentinel table for log source (category: process_creation, product: windows) in docs/sources.md; "
        f"{way or 'no installed pipeline takes it'}"
    )
    assert error.details == f"Supported log sources: {'; '.join(supported_logsources())}."  # type: ignore[attr-defined]


def test_the_kusto_pipelines_named_are_the_installed_ones() -> None:
    """The names are read from pySigma-backend-kusto as installed, as sigma-cli names them."""
    pytest.importorskip("sigma.backends.kusto")
    from sigma.plugins import InstalledSigmaPlugins

    discovered = InstalledSigmaPlugins.autodiscover(include_backends=False, include_validators=False).pipelines
    named = [p.identifier for p in installed_kusto_pipelines()]
    assert named and set(named) <= set(discovered)
    assert {"microsoft_xdr", "sentinel_asim", "azure_monitor"} <= set(named)


def test_log_source_no_pipeline_takes() -> None:
    error = refusal(rule("  product: salesforce\n  service: eventlog\n", "EventType: x"))
    assert after_label(error) == (
        "no Sentinel table for log source (product: salesforce, service: eventlog) in docs/sources.md; "
        "no installed pipeline takes it"
    )


def test_rule_outside_the_chosen_pipelines_names_them_and_the_one_that_takes_it() -> None:
    error = refusal(rule(KUBERNETES, "verb: delete"), azure_activity_pipeline)
    assert after_label(error) == (
        "no table for log source (product: kubernetes, service: audit) in the pipelines applied "
        "(azure_activity); -p aks_audit (or aks_audit_admin, aks_audit_legacy) takes it"
    )
    error = refusal(rule(ACTIVITY, "operationName: x"), aks_audit_pipeline)
    assert after_label(error) == (
        "no table for log source (product: azure, service: activitylogs) in the pipelines applied "
        "(aks_audit); -p azure_activity takes it"
    )
    error = refusal(rule(KUBERNETES, "verb: delete"), aks_dataplane_pipeline, okta_pipeline)
    assert after_label(error) == (
        "no table for log source (product: kubernetes, service: audit) in the pipelines applied "
        "(aks_dataplane, azure_activity, okta); -p aks_audit (or aks_audit_admin, aks_audit_legacy) takes it"
    )


def sigma_cli() -> Path:
    sigma = Path(sys.executable).with_name("sigma")
    if not sigma.is_file():
        pytest.skip("sigma-cli not installed beside python")
    return sigma


# ---- the plugin name in `sigma list` ---------------------------------------------------------------


def test_discovered_objects_are_defined_in_the_discovery_leaves() -> None:
    """sigma-cli names a plugin after the module a target or pipeline is defined in
    (`sigma.backends.<plugin>`, `sigma.pipelines.<plugin>`); pySigma's discovery finds ours there
    (both pySigma lines)."""
    from sigma.plugins import InstalledSigmaPlugins

    from sigma_azure_aks.backend import SentinelBackend

    plugins = InstalledSigmaPlugins.autodiscover(include_validators=False)
    target = plugins.backends["sentinel"]
    assert target.__module__ == f"sigma.backends.{PLUGIN}"
    assert issubclass(target, SentinelBackend)
    ours = {name: p for name, p in plugins.pipelines.items() if getattr(p, "__module__", "").endswith(PLUGIN)}
    assert "azure_activity" in ours and "aks_audit" in ours
    assert {p.__module__ for p in ours.values()} == {f"sigma.pipelines.{PLUGIN}"}


def test_sigma_list_shows_the_plugin_name() -> None:
    sigma = sigma_cli()
    targets = subprocess.run([str(sigma), "list", "targets"], capture_output=True, text=True, timeout=300)
    [row] = [line for line in targets.stdout.splitlines() if line.startswith("| sentinel ")]
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "sentinel",
        "Microsoft Sentinel (sigma_azure_aks)",
        "No",
        PLUGIN,
    ]
    listed = subprocess.run([str(sigma), "list", "pipelines"], capture_output=True, text=True, timeout=300)
    rows = {
        cells[0]: cells[-1]
        for line in listed.stdout.splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])[0]
    }
    from sigma_azure_aks.pipelines import all_pipelines

    assert {rows[pipeline_id] for pipeline_id in all_pipelines()} == {PLUGIN}


# ---- replay: a table the events hold no row of -----------------------------------------------------


def _replay_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], events: Path, *rules: str) -> list[str]:
    from replay_support import require_engine

    require_engine()
    paths = []
    for number, text in enumerate(rules):
        path = tmp_path / f"rule{number}.yml"
        path.write_text(text.replace(RULE_ID, f"{RULE_ID[:-1]}{number}"), encoding="utf-8")
        paths.append(str(path))
    capsys.readouterr()
    main(["replay", *paths, "--events", str(events)])
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]


AUDIT_RULES = (rule(KUBERNETES, "verb: delete"), rule(KUBERNETES, "verb: create"))


def test_replay_notes_each_table_without_rows_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"$table": "AzureActivity", "EventDataId": "e1", "OperationNameValue": "X"}\n', "utf-8")
    lines = _replay_lines(tmp_path, capsys, events, *AUDIT_RULES, rule(ACTIVITY, "operationName: X"))
    assert lines == [
        f"note: no rows of table AKSAudit in {events} (2 rule(s) read it, so they match nothing)",
    ]


def test_replay_notes_a_scanned_export_without_rows_of_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "export.csv"
    events.write_text("$table,EventDataId,OperationNameValue\nAzureActivity,e1,X\n", encoding="utf-8")
    lines = _replay_lines(tmp_path, capsys, events, AUDIT_RULES[0], rule(ACTIVITY, "operationName: X"))
    assert lines == [f"note: no rows of table AKSAudit in {events} (1 rule(s) read it, so they match nothing)"]


def test_replay_notes_nothing_when_every_table_has_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"$table": "AzureActivity", "EventDataId": "e1", "OperationNameValue": "X"}\n', "utf-8")
    assert _replay_lines(tmp_path, capsys, events, rule(ACTIVITY, "operationName: X")) == []


def test_replay_api_notices_name_events_given_as_rows() -> None:
    from replay_support import require_engine

    require_engine()
    from sigma_azure_aks.replay import replay

    result = replay(rule(KUBERNETES, "verb: delete"), [{"$table": "AzureActivity", "EventDataId": "e1"}])
    assert result.notices == ["no rows of table AKSAudit in the events given (1 rule(s) read it, so they match nothing)"]


# ---- pySigma's type-mismatch and RE2 messages (plain_message) ------------------------------------


def _mismatch_line(detection: str) -> str:
    """The plain line of the type mismatch pySigma raises on a gcp.audit rule with this selection item."""
    from sigma_azure_aks.messages import plain_message

    text = rule("  product: gcp\n  service: gcp.audit\n", detection)
    with pytest.raises(SigmaError) as error:
        SigmaCollection.from_yaml(text).rules[0].detection  # noqa: B018 (parsing raises)
    return plain_message(str(error.value), text)


@pytest.mark.parametrize(
    ("detection", "line"),
    [
        # a float prints as pySigma's number (5.0 as 5): the item is still found and named
        (
            "protoPayload.methodName|startswith: 5.0",
            "field 'protoPayload.methodName': the modifier |startswith does not apply to the number 5.0; "
            "use a value of the type |startswith expects (quote a number to use it as text)",
        ),
        # null prints as an object with its address: the message says null, names the field, and no address
        (
            "protoPayload.methodName|contains: null",
            "field 'protoPayload.methodName': the modifier |contains does not apply to null; "
            "null takes no modifier: write the field without |contains (field: null)",
        ),
    ],
)
def test_type_mismatch_names_the_field_and_value_as_written(detection: str, line: str) -> None:
    assert _mismatch_line(detection).endswith(line)


def test_only_re2s_reason_is_decoded_and_a_rules_own_b_quote_is_kept() -> None:
    from sigma_azure_aks.messages import plain_message

    # pySigma 2's words for the pattern `b'((` (RE2's reason a bytes literal after "is invalid: ")
    pysigma2 = "Regular expression 'b'((' is invalid: b\"missing ): b'((\""
    assert plain_message(pysigma2) == "Regular expression 'b'((' is invalid: missing ): b'(("
    # pySigma 1's words (Python's re): nothing is a bytes literal, so nothing changes
    pysigma1 = "Regular expression 'b'((' is invalid: missing ), unterminated subpattern at position 3"
    assert plain_message(pysigma1) == pysigma1
    assert plain_message("Regular expression '((' is invalid: b'missing ): (('") == (
        "Regular expression '((' is invalid: missing ): (("
    )


def test_a_line_break_in_a_rules_own_field_name_keeps_the_failure_on_one_line() -> None:
    line = _mismatch_line('"proto\\nPayload.methodName|contains": 5')
    assert "\n" not in line
    assert line.startswith("field 'proto Payload.methodName': the modifier |contains does not apply to the number 5")
