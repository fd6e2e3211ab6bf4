"""Every warning the package emits about a rule prints as one line
`warning: rule 'TITLE' (ID): what; what to do` (never a Python tuple), tested on the exact line.

The one warning about no rule (an unknown `-O` key) is `warning: what; what to do`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from sigma_azure_aks.commands import main
from sigma_azure_aks.notices import RuleWarning

PACKAGE = Path(__file__).resolve().parent.parent / "sigma_azure_aks"
RULE_ID = "7d1e2c3b-4a5f-4e6d-8c7b-9a0b1c2d3e4f"
LABEL = f"rule 'Warned' ({RULE_ID})"


def rule_text(product: str, service: str, detection: str, tags: tuple[str, ...] = ()) -> str:
    tag_block = "tags:\n" + "".join(f"  - {tag}\n" for tag in tags) if tags else ""
    return (
        f"title: Warned\nid: {RULE_ID}\nstatus: test\n{tag_block}"
        f"logsource:\n  product: {product}\n  service: {service}\n"
        f"detection:\n  sel:\n{detection}\n  condition: sel\nlevel: high\n"
    )


def warnings_of(tmp_path: Path, capsys, text: str, *args: str, command: str = "convert") -> list[str]:
    path = tmp_path / "rule.yml"
    path.write_text(text, encoding="utf-8")
    extra = ["--out", str(tmp_path / "out")] if command == "export" else []
    capsys.readouterr()
    main([command, str(path), *extra, *args])
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]


OPERATION = "    operationName: {}"
CASES = {
    "FieldValueWarning: field spelling": (
        ("azure", "signinlogs", "    Resultdescription: x"),
        (),
        f"warning: {LABEL}: field 'Resultdescription' is not spelled as any SigninLogs field, so it is read "
        "as 'ResultDescription' (names are matched ignoring case); spell it as docs/sources.md lists it",
    ),
    "FieldValueWarning: enumeration": (
        ("azure", "signinlogs", "    AuthenticationRequirement: single"),
        (),
        f"warning: {LABEL}: field 'AuthenticationRequirement' (AuthenticationRequirement) holds one of "
        "singleFactorAuthentication, multiFactorAuthentication",
    ),
    "FieldValueWarning: a field name as a value": (
        ("aws", "cloudtrail", "    userIdentity.arn|contains: responseElements.accessKey.userName"),
        (),
        f"warning: {LABEL}: the value 'responseElements.accessKey.userName' of field 'userIdentity.arn' names a "
        "field of AWSCloudTrail, and Sigma compares it as text; if the rule means that field's value, write it "
        "with |fieldref",
    ),
    "GcpAuditWarning: logName": (
        ("gcp", "gcp.audit", "    logName: cloudaudit.googleapis.com/activity"),
        (),
        f"warning: {LABEL}: field 'logName': the value 'cloudaudit.googleapis.com/activity' matches no logName "
        "(a logName is the full name of the log, beginning with projects/",
    ),
    "GcpAuditWarning: GKE method": (
        ("gcp", "gcp.audit", "    gcp.audit.method_name: io.k8s.api.batch.v1.Job.create"),
        (),
        f"warning: {LABEL}: field 'gcp.audit.method_name': the value 'io.k8s.api.batch.v1.Job.create' matches "
        "no method name GKE logs (",
    ),
    "GcpWorkspaceWarning: typed parameter": (
        ("gcp", "google_workspace.admin", "    eventName: CHANGE_APPLICATION_SETTING\n    parameters.is_suspicious: 'true'"),
        (),
        f"warning: {LABEL}: field 'parameters.is_suspicious': parameters.<NAME> reads the parameter's `value` "
        "(text) only; if Google writes is_suspicious as boolValue, intValue or multiValue",
    ),
    "AksDataPlaneWarning: not in AzureActivity": (
        ("azure", "activitylogs", OPERATION.format("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/DELETE")),
        (),
        f"warning: {LABEL}: Kubernetes data-plane operations are not in AzureActivity (the query likely never "
        "fires); convert with -p aks_dataplane",
    ),
    "AksDataPlaneWarning: left out": (
        (
            "azure",
            "activitylogs",
            "    operationName:\n"
            "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/RBAC.AUTHORIZATION.K8S.IO/ROLES/BIND/ACTION\n"
            "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/DELETE",
        ),
        ("-p", "aks_dataplane"),
        f"warning: {LABEL}: 1 accepted operation(s) have no audit-log equivalent and are left out, the query "
        "covers the others; --verbose names them and why",
    ),
    "AksDataPlaneWarning: Arc": (
        ("azure", "activitylogs", OPERATION.format("MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/PODS/DELETE")),
        ("-p", "aks_dataplane"),
        f"warning: {LABEL}: Arc-enabled cluster operations are watched on AKS clusters only; collect Arc "
        "audit logs to cover Arc",
    ),
    "AksAuditWarning: response code": (
        ("kubernetes", "audit", "    responseStatus.code: ALLOW"),
        (),
        f"warning: {LABEL}: responseStatus.code is a number (the HTTP status), so the value 'ALLOW' never "
        "matches it; use the status number (e.g. 403)",
    ),
    "AksAuditWarning: admin table": (
        ("kubernetes", "audit", "    responseStatus.code: 403"),
        ("-p", "aks_audit_admin"),
        f"warning: {LABEL}: AKSAuditAdmin leaves out get and list requests, so the rule's matches on get and "
        "list requests are not seen there; use the aks_audit pipeline (AKSAudit) to see them",
    ),
    "QueryTooLongWarning": (
        (
            "azure",
            "activitylogs",
            "    caller:\n" + "".join(f"      - user{n:04d}@example.com\n" for n in range(700)),
        ),
        (),
        f"warning: {LABEL}: the query is ",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_warning_is_one_line_naming_the_rule(case, tmp_path, capsys):
    (product, service, detection), args, expected = CASES[case]
    lines = warnings_of(tmp_path, capsys, rule_text(product, service, detection.rstrip("\n")), *args)
    found = [line for line in lines if line.startswith(expected)]
    assert len(found) == 1, (lines, expected)
    line = found[0]
    assert line.startswith(f"warning: {LABEL}: ") and "; " in line and not line.endswith(".")
    assert "('" not in line and "', '" not in line  # no Python tuple
    if case == "FieldValueWarning: enumeration":
        assert line == expected + (
            " (Microsoft Graph signIn.authenticationRequirement); the value 'single' never matches it; "
            "use one of those values"
        )
    if case == "QueryTooLongWarning":
        assert line.endswith(
            "characters, more than the 10000 a Sentinel analytics rule accepts (Logs runs it); split the rule "
            "or shorten its value lists"
        )


def test_sentinel_mapping_warnings_on_export(tmp_path, capsys):
    text = rule_text(
        "azure",
        "activitylogs",
        OPERATION.format("MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE"),
        tags=("attack.impact", "attack.lunch-break", "attack.t1686.001"),
    )
    lines = warnings_of(tmp_path, capsys, text, "-f", "arm", command="export")
    assert lines == [
        f"warning: {LABEL}: tag 'attack.lunch-break' is no ATT&CK tactic Sentinel knows, so it is left out; "
        "use a tactic tag (docs/formats.md lists them)",
        f"warning: {LABEL}: ATT&CK technique T1686.001 (nor its parent T1686) is not in Sentinel's technique "
        "map, so it is left out of the analytics rule (Sentinel would reject it); tag the nearest technique "
        "Sentinel knows if the mapping matters",
    ]


def test_an_unknown_backend_option_is_one_line_before_the_refusal():
    from sigma_azure_aks.analytics.options import OPTION_KEYS
    from sigma_azure_aks.backend import SentinelBackend

    with pytest.warns(UserWarning) as warned, pytest.raises(TypeError):
        SentinelBackend(colour="blue")
    assert [str(w.message) for w in warned] == [
        f"backend option 'colour' is not an analytics-rule setting; known: {', '.join(OPTION_KEYS)}"
    ]


def _warning_classes() -> dict[str, str]:
    """Every Warning subclass the package defines, by name: its base classes as written."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Warning"):
                found[node.name] = ",".join(ast.unparse(base) for base in node.bases)
    return found


def test_every_warning_class_is_a_rule_warning_and_is_tested():
    classes = _warning_classes()
    assert classes.pop("RuleWarning") == "UserWarning"
    assert all(base == "RuleWarning" for base in classes.values()), classes
    tested = {case.split(":")[0] for case in CASES} | {"SentinelMappingWarning", "SentinelOptionWarning"}
    assert set(classes) <= tested, set(classes) - tested


def test_a_rule_warning_prints_its_line_not_a_tuple():
    warning = RuleWarning("rule 'x' (1): what; what to do", "details")
    assert str(warning) == "rule 'x' (1): what; what to do" and warning.details == "details"
    assert json.dumps(str(warning)).count("(") == 1
