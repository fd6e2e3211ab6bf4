"""`aks_dataplane`: activity-log rules about Kubernetes objects -> AKSAudit, and the warning when
they stay on AzureActivity.

The seed ("Azure Kubernetes CronJob") must mean: AKSAudit rows whose ObjectRef.apiGroup is batch,
ObjectRef.resource is cronjobs or jobs, and Verb is create, update or patch.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import shared_dir
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines import aks_dataplane_pipeline
from sigma_azure_aks.pipelines.aks_dataplane import ARC_LINE, ARC_WARNING, AksDataPlaneWarning
from sigma_azure_aks.pipelines.state import QUERY_TABLE
from sigma_azure_aks.sources.k8s_catalogue import KubernetesOperation, catalogue_operations, parse_operation

ACTIVITYLOGS = Path("corpus") / "sigmahq" / "activitylogs"
SEED = "azure_kubernetes_cronjob.yml"
SEED_ID = "1c71e254-6655-42c1-b2d6-5e4718d7fc0a"
RULE_ID = "5d0c1b3a-0000-4000-8000-0000000000d1"

SEED_AKS = (
    "AKSAudit\n"
    '| where tostring(ObjectRef.apiGroup) =~ "batch" and (tostring(ObjectRef.resource) in~ ("cronjobs", "jobs")) '
    'and (Verb in~ ("create", "update", "patch"))'
)
SEED_ACTIVITY = (
    "AzureActivity\n"
    '| where (OperationNameValue startswith "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/BATCH" or '
    'OperationNameValue startswith "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH") and '
    '(OperationNameValue endswith "/CRONJOBS/WRITE" or OperationNameValue endswith "/JOBS/WRITE")'
)
WRITE_DELETE = '(Verb in~ ("create", "update", "patch", "delete", "deletecollection"))'

# The nine SigmaHQ AKS rules about Kubernetes objects, under -p aks_dataplane.
CORPUS_EXPECTED = {
    "azure_kubernetes_admission_controller.yml": (
        'tostring(ObjectRef.apiGroup) =~ "admissionregistration.k8s.io" and (tostring(ObjectRef.resource) in~ '
        '("mutatingwebhookconfigurations", "validatingwebhookconfigurations")) and '
        '(Verb in~ ("create", "update", "patch"))'
    ),
    SEED: SEED_AKS.split("| where ", 1)[1],
    "azure_kubernetes_events_deleted.yml": (
        'tostring(ObjectRef.apiGroup) =~ "events.k8s.io" and tostring(ObjectRef.resource) =~ "events" and '
        '(Verb in~ ("delete", "deletecollection"))'
    ),
    "azure_kubernetes_network_policy_change.yml": (
        '(tostring(ObjectRef.apiGroup) in~ ("extensions", "networking.k8s.io")) and '
        f'tostring(ObjectRef.resource) =~ "networkpolicies" and {WRITE_DELETE}'
    ),
    "azure_kubernetes_pods_deleted.yml": (
        'isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "pods" and '
        '(Verb in~ ("delete", "deletecollection"))'
    ),
    "azure_kubernetes_role_access.yml": (
        'tostring(ObjectRef.apiGroup) =~ "rbac.authorization.k8s.io" and '
        f'(tostring(ObjectRef.resource) in~ ("clusterroles", "roles")) and {WRITE_DELETE}'
    ),
    "azure_kubernetes_rolebinding_modified_or_deleted.yml": (
        'tostring(ObjectRef.apiGroup) =~ "rbac.authorization.k8s.io" and '
        f'(tostring(ObjectRef.resource) in~ ("clusterrolebindings", "rolebindings")) and {WRITE_DELETE}'
    ),
    "azure_kubernetes_secret_or_config_object_access.yml": (
        'isempty(tostring(ObjectRef.apiGroup)) and (tostring(ObjectRef.resource) in~ ("configmaps", "secrets")) '
        f"and {WRITE_DELETE}"
    ),
    "azure_kubernetes_service_account_modified_or_deleted.yml": (
        'isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "serviceaccounts" and '
        f"{WRITE_DELETE}"
    ),
}
# Accepted operations with no audit-log equivalent, reported in a warning.
UNOBSERVABLE = {
    "azure_kubernetes_role_access.yml": "'bind' is an authorization check",
    "azure_kubernetes_service_account_modified_or_deleted.yml": "'impersonate' is checked when a request",
}
ARM_RULE = "azure_kubernetes_cluster_created_or_deleted.yml"


def activity_rule(detection: str) -> str:
    return (
        f"title: Test rule\nid: {RULE_ID}\nstatus: test\n"
        "logsource:\n  product: azure\n  service: activitylogs\n"
        f"detection:\n{detection}\nlevel: medium\n"
    )


def convert_text(text: str, pipeline=None) -> tuple[str, SentinelBackend]:
    backend = SentinelBackend(pipeline)
    [query] = backend.convert(SigmaCollection.from_yaml(text))
    return query, backend


def dataplane(detection: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AksDataPlaneWarning)
        return convert_text(activity_rule(detection), aks_dataplane_pipeline())[0]


def corpus(name: str) -> str:
    base = shared_dir()
    path = base / ACTIVITYLOGS / name if base else None
    if path is None or not path.exists():
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    return path.read_text(encoding="utf-8")


# ---- the seed ---------------------------------------------------------------------------------
def test_seed_on_aks_dataplane() -> None:
    with pytest.warns(AksDataPlaneWarning) as record:
        query, backend = convert_text(corpus(SEED), aks_dataplane_pipeline())
    assert query == SEED_AKS
    assert backend.last_processing_pipeline.state[QUERY_TABLE] == "AKSAudit"
    messages = [str(w.message) for w in record]
    assert messages == [f"rule 'Azure Kubernetes CronJob' ({SEED_ID}): {ARC_LINE}"]
    assert [w.message.details for w in record] == [ARC_WARNING]  # type: ignore[union-attr]


def test_seed_default_stays_on_azure_activity_and_warns() -> None:
    with pytest.warns(AksDataPlaneWarning) as record:
        query, backend = convert_text(corpus(SEED))
    assert query == SEED_ACTIVITY
    assert backend.last_processing_pipeline.state[QUERY_TABLE] == "AzureActivity"
    [warning] = [w.message for w in record]
    message, details = str(warning), warning.details  # type: ignore[union-attr]
    assert message == (
        f"rule 'Azure Kubernetes CronJob' ({SEED_ID}): Kubernetes data-plane operations are not in "
        "AzureActivity (the query likely never fires); convert with -p aks_dataplane"
    )
    assert "AzureActivity records Azure Resource Manager operations only" in details
    assert "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/CRONJOBS/WRITE" in details


def test_seed_warning_on_sigma_cli_stderr() -> None:
    sigma = shutil.which("sigma", path=str(Path(sys.executable).parent))
    if sigma is None:
        pytest.skip("sigma-cli not installed")
    base = shared_dir()
    if base is None:
        pytest.skip("shared corpus not found")
    seed = base / ACTIVITYLOGS / SEED
    other = base / ACTIVITYLOGS / "azure_kubernetes_pods_deleted.yml"
    done = subprocess.run(
        [sigma, "convert", "-t", "sentinel", str(seed), str(other)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert SEED_ACTIVITY in done.stdout
    # one warning per rule, each naming its rule
    assert done.stderr.count("AksDataPlaneWarning") == 2
    assert SEED_ID in done.stderr and "b02f9591-12c3-4965-986a-88028629b2e1" in done.stderr
    assert "-p aks_dataplane" in done.stderr


# ---- the AKS activity-log corpus -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_rule_on_aks_dataplane(name: str) -> None:
    with pytest.warns(AksDataPlaneWarning) as record:
        query, backend = convert_text(corpus(name), aks_dataplane_pipeline())
    assert query == "AKSAudit\n| where " + CORPUS_EXPECTED[name]
    assert backend.last_processing_pipeline.state[QUERY_TABLE] == "AKSAudit"
    warned = [(str(w.message), w.message.details) for w in record]  # type: ignore[union-attr]
    assert any(d == ARC_WARNING for _, d in warned)  # every one of them names Arc operations
    if name in UNOBSERVABLE:
        assert any(UNOBSERVABLE[name] in d and "no audit-log equivalent" in m for m, d in warned)
    assert all("\n" not in m and len(m) < 300 for m, _ in warned)  # one line each


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_rule_default_warns(name: str) -> None:
    with pytest.warns(AksDataPlaneWarning, match="-p aks_dataplane"):
        query, _ = convert_text(corpus(name))
    assert query.startswith("AzureActivity\n| where ")


def test_arm_rule_stays_on_azure_activity() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        query, backend = convert_text(corpus(ARM_RULE), aks_dataplane_pipeline())
        default_query, _ = convert_text(corpus(ARM_RULE))
    expected = (
        "AzureActivity\n| where OperationNameValue in~ "
        '("MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/WRITE", "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/DELETE")'
    )
    assert query == default_query == expected
    assert backend.last_processing_pipeline.state[QUERY_TABLE] == "AzureActivity"


def test_corpus_queries_parse(tmp_path) -> None:
    from sigma_azure_aks.kql_parser.checker import KqlChecker, KqlParserUnavailable

    try:
        with KqlChecker() as checker:
            for name, condition in CORPUS_EXPECTED.items():
                assert checker.errors("AKSAudit\n| where " + condition) == [], name
    except KqlParserUnavailable as error:
        pytest.skip(f"Microsoft's KQL parser is not available: {error}")


# ---- solving the detection as a set ------------------------------------------------------------------
def test_prefix_and_suffix_solved_on_the_catalogue() -> None:
    detection = (
        "  sel:\n    operationName|startswith: 'MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/RBAC.AUTHORIZATION.K8S.IO/'\n"
        "    operationName|endswith: '/DELETE'\n  condition: sel"
    )
    assert dataplane(detection) == (
        'AKSAudit\n| where tostring(ObjectRef.apiGroup) =~ "rbac.authorization.k8s.io" and '
        '(tostring(ObjectRef.resource) in~ ("clusterrolebindings", "clusterroles", "rolebindings", "roles")) and '
        '(Verb in~ ("delete", "deletecollection"))'
    )


def test_not_condition_removes_operations() -> None:
    detection = (
        "  sel:\n    operationName|startswith: 'MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/'\n"
        "    operationName|endswith: '/WRITE'\n"
        "  filter:\n    operationName|contains: '/STATUS/'\n"
        "  jobs:\n    operationName|contains: '/JOBS/'\n"
        "  condition: sel and not filter and not jobs"
    )
    assert dataplane(detection) == (
        'AKSAudit\n| where tostring(ObjectRef.apiGroup) =~ "batch" and tostring(ObjectRef.resource) =~ "cronjobs" '
        'and (Verb in~ ("create", "update", "patch"))'
    )


def test_wildcard_inside_value() -> None:
    detection = "  sel:\n    operationName: 'MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/*SECRETS/READ'\n  condition: sel"
    assert dataplane(detection) == (
        'AKSAudit\n| where isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "secrets" '
        'and (Verb in~ ("get", "list", "watch"))'
    )


def test_several_shapes_are_or_linked() -> None:
    detection = (
        "  sel:\n    operationName:\n"
        "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/EXEC/ACTION\n"
        "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/APPS/DEPLOYMENTS/SCALE/WRITE\n"
        "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/SECRETS/DELETE\n"
        "  condition: sel"
    )
    assert dataplane(detection) == (
        "AKSAudit\n| where "
        '(isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "pods" and '
        'tostring(ObjectRef.subresource) =~ "exec" and (Verb in~ ("create", "get"))) or '
        '(isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "secrets" and '
        '(Verb in~ ("delete", "deletecollection"))) or '
        '(tostring(ObjectRef.apiGroup) =~ "apps" and tostring(ObjectRef.resource) =~ "deployments" and '
        'tostring(ObjectRef.subresource) =~ "scale" and (Verb in~ ("create", "update", "patch")))'
    )


def test_lower_case_and_operation_name_dialects() -> None:
    for field in ("operationName", "operationName.value", "OperationNameValue"):
        detection = (
            f"  sel:\n    {field}: microsoft.containerservice/managedClusters/pods/delete\n  condition: sel"
        )
        assert dataplane(detection) == (
            'AKSAudit\n| where isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "pods" '
            'and (Verb in~ ("delete", "deletecollection"))'
        )


def test_uncatalogued_custom_resource_written_out() -> None:
    detection = "  sel:\n    operationName: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/EXAMPLE.COM/WIDGETS/WRITE\n  condition: sel"
    assert dataplane(detection) == (
        'AKSAudit\n| where tostring(ObjectRef.apiGroup) =~ "example.com" and tostring(ObjectRef.resource) =~ "widgets" '
        'and (Verb in~ ("create", "update", "patch"))'
    )


def test_no_arc_warning_for_aks_only_rules() -> None:
    text = activity_rule(
        "  sel:\n    operationName: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/DELETE\n  condition: sel"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert_text(text, aks_dataplane_pipeline())


# ---- refusals ---------------------------------------------------------------------------------
def test_mixed_rule_is_refused() -> None:
    detection = (
        "  sel:\n    operationName:\n      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/DELETE\n"
        "      - MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION\n  condition: sel"
    )
    with pytest.raises(
        SigmaError, match=r"Kubernetes data-plane operations.*Azure Resource Manager.*Split the rule"
    ):
        dataplane(detection)


def test_prefix_covering_both_kinds_is_refused() -> None:
    detection = (
        "  sel:\n    operationName|startswith: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/\n  condition: sel"
    )
    with pytest.raises(
        SigmaError, match=r"and Azure Resource Manager operations \(MICROSOFT.CONTAINERSERVICE/"
    ):
        dataplane(detection)


def test_other_fields_are_refused() -> None:
    detection = (
        "  sel:\n    operationName: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/DELETE\n"
        "    caller: admin@example.com\n  condition: sel"
    )
    with pytest.raises(SigmaError, match="'caller', which has no equivalent in the AKS audit log"):
        dataplane(detection)


def test_only_unobservable_operations_are_refused() -> None:
    detection = (
        "  sel:\n    operationName: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/RBAC.AUTHORIZATION.K8S.IO/ROLES/BIND/ACTION"
        "\n  condition: sel"
    )
    with pytest.raises(SigmaError, match="no audit-log equivalent.*Nothing of the rule is left"):
        dataplane(detection)


def test_arm_operation_rules_fall_back_without_warning() -> None:
    text = activity_rule(
        "  sel:\n    operationName: MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION"
        "\n  condition: sel"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        query, _ = convert_text(text, aks_dataplane_pipeline())
    assert query == (
        'AzureActivity\n| where OperationNameValue =~ "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION"'
    )


# ---- the catalogue and the grammar ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/CRONJOBS/WRITE",
            ("batch", "cronjobs", None, "write"),
        ),
        ("MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/PODS/DELETE", ("", "pods", None, "delete")),
        ("microsoft.containerservice/managedClusters/pods/exec/action", ("", "pods", None, "exec")),
        (
            "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/APPS/DEPLOYMENTS/SCALE/WRITE",
            ("apps", "deployments", "scale", "write"),
        ),
        (
            "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/RBAC.AUTHORIZATION.K8S.IO/ROLES/BIND/ACTION",
            ("rbac.authorization.k8s.io", "roles", None, "bind"),
        ),
        ("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/WRITE", None),
        ("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION", None),
        ("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AGENTPOOLS/WRITE", None),
        ("MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/WRITE", None),
        ("MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE", None),
        ("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PODS/FROB", None),
    ],
)
def test_parse_operation(name: str, expected) -> None:
    parsed = parse_operation(name)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.api_group, parsed.resource, parsed.subresource, parsed.action) == expected


def test_catalogue_names_parse_back() -> None:
    for operation in catalogue_operations():
        assert parse_operation(operation.name) == operation, operation.name


def test_operation_verbs() -> None:
    op = KubernetesOperation("MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS", "batch", "jobs", None, "write")
    assert op.verbs == ("create", "update", "patch")
    assert op.name == "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/JOBS/WRITE"


# ---- behaviour ------------------------------------------------------------------------------------------
def _record(
    audit_id: str, verb: str, api_group: str | None, resource: str, subresource: str | None = None
) -> dict:
    base = shared_dir()
    path = base / "samples" / "aks_kube_audit_records.json" if base else None
    if path is None or not path.exists():
        pytest.skip("shared samples not found")
    record = copy.deepcopy(json.loads(path.read_text(encoding="utf-8"))["records"][0])
    event = json.loads(record["properties"]["log"])
    object_ref = {"resource": resource, "namespace": "default", "name": "x"}
    if api_group:
        object_ref["apiGroup"] = api_group
    if subresource:
        object_ref["subresource"] = subresource
    event.update(auditID=audit_id, verb=verb, objectRef=object_ref)
    record["properties"]["log"] = json.dumps(event)
    return record


def test_behaviour_seed_on_aks_rows() -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from sigma_azure_aks.replay import replay

    events = [
        _record("cronjob-create", "create", "batch", "cronjobs"),
        _record("job-patch", "patch", "batch", "jobs"),
        _record("cronjob-status-update", "update", "batch", "cronjobs", "status"),
        _record("cronjob-get", "get", "batch", "cronjobs"),
        _record("job-delete", "delete", "batch", "jobs"),
        _record("deployment-create", "create", "apps", "deployments"),
        _record("pod-create", "create", None, "pods"),
        _record("lease-update", "update", "coordination.k8s.io", "leases"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AksDataPlaneWarning)
        result = replay(corpus(SEED), events, pipeline=aks_dataplane_pipeline())
        pods = replay(
            corpus("azure_kubernetes_pods_deleted.yml"),
            events + [_record("pod-delete", "delete", None, "pods")],
            pipeline=aks_dataplane_pipeline(),
        )
    assert not result.failures, result.failures
    assert sorted(result[SEED_ID]) == ["cronjob-create", "cronjob-status-update", "job-patch"]
    assert pods["b02f9591-12c3-4965-986a-88028629b2e1"] == ["pod-delete"]


def test_dataplane_docs_example_is_current() -> None:
    from conftest import REPO_ROOT

    doc = (REPO_ROOT / "docs" / "aks.md").read_text(encoding="utf-8")
    assert SEED_AKS in doc
    assert SEED_ACTIVITY in doc
    assert re.search(re.escape(ARC_WARNING.split(":")[0]), doc.replace("\n  ", " ").replace("\n", " "))


def test_regular_expression_on_operation_name() -> None:
    detection = "  sel:\n    operationName|re: '(?i)^microsoft\\.containerservice/managedclusters/secrets/(write|delete)$'\n  condition: sel"
    assert dataplane(detection) == (
        'AKSAudit\n| where isempty(tostring(ObjectRef.apiGroup)) and tostring(ObjectRef.resource) =~ "secrets" '
        'and (Verb in~ ("create", "update", "patch", "delete", "deletecollection"))'
    )
    arm = "  sel:\n    operationName|re: '^microsoft\\.network/'\n  condition: sel"
    assert (
        dataplane(arm) == 'AzureActivity\n| where OperationNameValue matches regex "^microsoft\\\\.network/"'
    )


GENERIC_DELETE = """
title: Any delete
id: 0a9f0c55-7a3e-4a4b-9c59-8a0b6d1e2f33
logsource: {product: azure, service: activitylogs}
detection:
  sel:
    operationName|endswith: /DELETE
  condition: sel
"""


def test_rule_about_operations_in_general_stays_on_azureactivity_without_warning() -> None:
    """`endswith: /DELETE` accepts Kubernetes deletes, but also every other provider's: it is not a
    Kubernetes rule, so it neither warns nor moves to AKSAudit."""
    import warnings

    from sigma.backends.kusto import KustoBackend  # noqa: F401  (same import path as the CLI)
    from sigma.collection import SigmaCollection

    from sigma_azure_aks.backend import SentinelBackend
    from sigma_azure_aks.pipelines import aks_dataplane_pipeline

    expected = 'AzureActivity\n| where (OperationNameValue has "DELETE" and OperationNameValue endswith "/DELETE")'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert SentinelBackend().convert(SigmaCollection.from_yaml(GENERIC_DELETE)) == [expected]
        assert SentinelBackend(aks_dataplane_pipeline()).convert(
            SigmaCollection.from_yaml(GENERIC_DELETE)
        ) == [expected]
    assert [str(w.message) for w in caught] == []


def test_explicit_azure_activity_pipeline_warns_on_the_seed(shared) -> None:
    import warnings

    from sigma.collection import SigmaCollection

    from sigma_azure_aks.backend import SentinelBackend
    from sigma_azure_aks.pipelines import azure_activity_pipeline
    from sigma_azure_aks.pipelines.aks_dataplane import AksDataPlaneWarning

    seed = (shared / "corpus/sigmahq/activitylogs/azure_kubernetes_cronjob.yml").read_text()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [query] = SentinelBackend(azure_activity_pipeline()).convert(SigmaCollection.from_yaml(seed))
    assert query.startswith("AzureActivity\n| where (OperationNameValue startswith")
    assert [w.category for w in caught] == [AksDataPlaneWarning]


def test_arc_note_in_the_analytics_rule_description(shared) -> None:
    import json

    from sigma.collection import SigmaCollection

    from sigma_azure_aks.backend import SentinelBackend
    from sigma_azure_aks.pipelines import aks_dataplane_pipeline
    from sigma_azure_aks.pipelines.aks_dataplane import ARC_WARNING

    seed = (shared / "corpus/sigmahq/activitylogs/azure_kubernetes_cronjob.yml").read_text()
    body = SentinelBackend(aks_dataplane_pipeline()).convert(SigmaCollection.from_yaml(seed), "json")
    description = json.loads(body)["properties"]["description"]
    assert description.endswith(
        f"Note: {ARC_WARNING}\n\nSigma rule 1c71e254-6655-42c1-b2d6-5e4718d7fc0a by Austin Songer "
        "@austinsonger, Detection Rule License 1.1"
    )
    default = SentinelBackend().convert(SigmaCollection.from_yaml(seed), "json")
    assert "Note:" not in json.loads(default)["properties"]["description"]


# ---- the catalogue's name index is only a prefilter: it never drops a name a value matches --------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sigma.types import SigmaCasedString, SigmaString  # noqa: E402

from sigma_azure_aks.pipelines.aks_dataplane_analysis import NameIndex, _catalogue_index  # noqa: E402
from sigma_azure_aks.semantics import value_matches  # noqa: E402

_NAMES = _catalogue_index().names


@st.composite
def _sigma_strings(draw: st.DrawFn) -> SigmaString:
    """Pieces of real operation names in any case, with wildcards and non-ASCII letters that
    case-insensitive matching folds (the Kelvin sign, the long s)."""
    name = draw(st.sampled_from(_NAMES))
    start = draw(st.integers(0, len(name)))
    end = draw(st.integers(start, len(name)))
    piece = name[start:end]
    piece = "".join(c.lower() if draw(st.booleans()) else c for c in piece)
    piece = piece.replace("K", draw(st.sampled_from(["K", "\u212a"]))).replace("S", draw(st.sampled_from(["S", "\u017f"])))
    shape = draw(st.sampled_from(["{}", "{}*", "*{}", "*{}*", "{}?", "?{}", "{}*/DELETE", "MICRO*{}"]))
    text = shape.format(piece.replace("*", "").replace("?", ""))
    return (SigmaCasedString if draw(st.booleans()) else SigmaString)(text)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(_sigma_strings())
def test_name_index_keeps_every_matching_name(value: SigmaString) -> None:
    matching = {name for name in _NAMES if value_matches(value, name)}
    assert matching <= set(_catalogue_index().candidates(value))


def test_name_index_narrows_by_prefix_and_suffix() -> None:
    index = NameIndex(["A/B/READ", "A/C/WRITE", "B/C/WRITE"])
    assert index.candidates(SigmaString("a/*")) == ["A/B/READ", "A/C/WRITE"]
    assert sorted(index.candidates(SigmaString("*/write"))) == ["A/C/WRITE", "B/C/WRITE"]
    assert index.candidates(SigmaString("*/C/*")) == index.names
    assert index.candidates(SigmaString("\u212a*")) == index.names  # non-ASCII: no narrowing
