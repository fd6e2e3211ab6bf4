"""The manifest `export` writes, the canonical content hash, and the workspace exports `plan` reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifecycle_support import IDS, bundle, export, first_and_second, resource_of, write_rule

from sigma_azure_aks.lifecycle import LifecycleInputError
from sigma_azure_aks.lifecycle.canonical import canonical, content_hash, duration_seconds, property_hashes
from sigma_azure_aks.lifecycle.manifest import MANIFEST_NAME, read_manifest
from sigma_azure_aks.lifecycle.plan import make_plan
from sigma_azure_aks.lifecycle.workspace import name_from_arm, rules_from_document


def test_manifest_names_each_rule_as_the_arm_output_does(tmp_path):
    one, _ = first_and_second(tmp_path)
    document = json.loads((one / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert document["format"] == "sigma-azure-aks/sentinel-manifest" and document["version"] == 1
    assert document["target"] == "sentinel" and document["pipelines"] == [] and document["failures"] == []
    assert [rule["alert_rule"] for rule in document["rules"]] == sorted(IDS.values())
    rule = next(r for r in document["rules"] if r["sigma_id"] == IDS["kept"])
    resource = resource_of(bundle(one), IDS["kept"])
    assert (
        resource["name"]
        == f"[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{rule['alert_rule']}')]"
    )
    assert rule["title"] == "Rule kept" and rule["display_name"] == resource["properties"]["displayName"]
    assert rule["source"] == "kept.yml" and document["root"] == "../rules1"  # relative to the rules root
    assert read_manifest(one).root == tmp_path / "rules1"
    assert rule["table"] == "AzureActivity" and rule["kind"] == "Scheduled" and rule["target"] == "sentinel"
    assert rule["files"] == {
        "arm": "arm/rule-kept_00000000.json",
        "kql": "kql/rule-kept_00000000.kql",
        "yaml": "yaml/rule-kept_00000000.yaml",
    }
    assert rule["content_hash"] == content_hash("Scheduled", resource["properties"], resource["properties"])
    assert set(rule["property_hashes"]) == set(resource["properties"])
    assert len(rule["content_hash"]) == len("sha256:") + 64


def test_manifest_is_deterministic_and_follows_the_formats(tmp_path):
    write_rule(tmp_path / "rules", "kept")
    assert export(tmp_path / "rules", tmp_path / "a") == 0
    assert export(tmp_path / "rules", tmp_path / "b", formats="json,kql") == 0
    first, second = (tmp_path / d / MANIFEST_NAME for d in ("a", "b"))
    one, two = json.loads(first.read_text()), json.loads(second.read_text())
    assert [r["content_hash"] for r in one["rules"]] == [r["content_hash"] for r in two["rules"]]
    assert two["rules"][0]["files"] == {
        "json": "json/rule-kept_00000000.json",
        "kql": "kql/rule-kept_00000000.kql",
    }
    before = first.read_bytes()
    assert export(tmp_path / "rules", tmp_path / "a") == 0
    assert first.read_bytes() == before
    # an export without a deployable format writes no manifest, and removes an earlier one
    assert export(tmp_path / "rules", tmp_path / "a", formats="kql,yaml") == 0
    assert not first.exists()


def test_manifest_records_the_pipelines_and_failures(tmp_path, capsys):
    from sigma_azure_aks.commands import main

    write_rule(tmp_path / "rules", "kept")
    (tmp_path / "rules" / "broken.yml").write_text("title: [x\n")
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "rules"), "--out", str(out), "-p", "azure_activity"]) == 1
    document = json.loads((out / MANIFEST_NAME).read_text())
    assert document["pipelines"] == ["azure_activity"] and document["rules"][0]["pipelines"] == [
        "azure_activity"
    ]
    [failure] = document["failures"]
    assert failure["source"] == "broken.yml"
    assert failure["sigma_id"] is None and "not valid YAML" in failure["error"]


def test_canonical_form_ignores_what_the_service_writes_differently():
    ours = {
        "query": "AzureActivity\n| where x",
        "queryPeriod": "P1D",
        "queryFrequency": "PT1H",
        "tactics": ["Impact", "DefenseEvasion"],
        "customDetails": {},
        "entityMappings": [
            {"entityType": "Account", "fieldMappings": [{"identifier": "Name", "columnName": "C"}]}
        ],
        "incidentConfiguration": {"createIncident": True, "groupingConfiguration": {"groupByEntities": []}},
    }
    service = {
        "query": "AzureActivity\r\n| where x\r\n",
        "queryPeriod": "PT24H",
        "queryFrequency": "PT60M",
        "tactics": ["DefenseEvasion", "Impact"],
        "customDetails": None,
        "entityMappings": [
            {"fieldMappings": [{"columnName": "C", "identifier": "Name"}], "entityType": "Account"}
        ],
        "incidentConfiguration": {
            "groupingConfiguration": {"groupByAlertDetails": None},
            "createIncident": True,
        },
        "lastModifiedUtc": "2026-01-01T00:00:00Z",
        "templateVersion": None,
    }
    assert content_hash("Scheduled", ours, ours) == content_hash("Scheduled", service, ours)
    assert property_hashes(ours, ours) == property_hashes(service, ours)
    assert content_hash("Scheduled", ours, ours) != content_hash("NRT", ours, ours)
    assert content_hash("Scheduled", {**service, "queryPeriod": "P2D"}, ours) != content_hash(
        "Scheduled", ours, ours
    )
    assert canonical(["b", "a"], "techniques") == ["a", "b"] and canonical(["b", "a"], "other") == ["b", "a"]
    assert duration_seconds("P1DT2H30M") == 95400 and duration_seconds("PT") is None
    assert canonical("not a duration", "queryPeriod") == "not a duration"


@pytest.mark.slow
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=10,
    )
)
def test_canonical_form_is_a_fixed_point(value):
    once = canonical(value)
    assert canonical(once) == once


def test_workspace_shapes_arm_rest_and_az_cli(tmp_path):
    one, _ = first_and_second(tmp_path)
    template = bundle(one)
    resource = resource_of(template, IDS["kept"])
    rest_item = {
        "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws/providers/"
        f"Microsoft.SecurityInsights/alertRules/{IDS['kept'].upper()}",
        "name": IDS["kept"].upper(),
        "etag": '"0100"',
        "type": "Microsoft.SecurityInsights/alertRules",
        "kind": "Scheduled",
        "properties": {**resource["properties"], "lastModifiedUtc": "2026-11-30T09:00:00Z"},
    }
    az_item = {key: value for key, value in rest_item.items() if key != "properties"}
    az_item.update(rest_item["properties"])  # the CLI flattens `properties`
    scoped = {**resource, "type": "Microsoft.SecurityInsights/alertRules", "name": IDS["kept"], "scope": "x"}
    shapes = [{"value": [rest_item]}, [az_item], rest_item, {"resources": [scoped, {"type": "other"}]}]
    manifest = read_manifest(one)
    for shape in shapes:
        [rule] = rules_from_document(shape, "ws.json")
        assert rule.key == IDS["kept"] and rule.kind == "Scheduled"
        entry = next(
            e for e in make_plan(manifest, manifest, {rule.key: rule}).entries if e.alert_rule == IDS["kept"]
        )
        assert entry.action == "unchanged", shape


def test_arm_names():
    assert name_from_arm("[concat(parameters('workspace'),'/Microsoft.SecurityInsights/abc')]") == "abc"
    assert name_from_arm("ws/Microsoft.SecurityInsights/abc") == "abc"
    assert (
        name_from_arm(
            "[concat(resourceId('Microsoft.OperationalInsights/workspaces/providers', parameters('workspace'), "
            "'Microsoft.SecurityInsights'),'/alertRules/abc')]"
        )
        == "abc"
    )
    for computed in (
        "[parameters('ruleName')]",
        "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/',parameters('id'))]",
        "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/')]",
        "[guid(resourceGroup().id)]",
    ):
        assert name_from_arm(computed) is None, computed


def test_one_workspace_rule_given_twice_differently(tmp_path):
    from sigma_azure_aks.lifecycle.workspace import load_workspace_rules

    one, _ = first_and_second(tmp_path)
    template = bundle(one)
    (tmp_path / "a.json").write_text(json.dumps(template))
    resource_of(template, IDS["kept"])["properties"]["severity"] = "Low"
    (tmp_path / "b.json").write_text(json.dumps(template))
    assert len(load_workspace_rules([tmp_path / "a.json", tmp_path / "a.json"])) == 4
    with pytest.raises(LifecycleInputError, match=f"alert rule {IDS['kept']} is also in .*a.json"):
        load_workspace_rules([tmp_path / "a.json", tmp_path / "b.json"])
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(LifecycleInputError, match="no .json files in this folder"):
        load_workspace_rules([Path(folder)])
