"""No rule text is ever evaluated as an ARM template expression (single-rule templates and bundles).

Resource Manager evaluates a string that starts with `[` and ends with `]` at deployment, with the
deploying identity; a literal is kept one by starting it with `[[` (Microsoft's "Syntax and
expressions in ARM templates", "Escape characters"). The evaluator below applies that rule on its
own to every string of the generated ARM JSON: the only expression is the resource name we write;
every other string deploys as exactly the rule's text (the REST body, which is not evaluated).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sigma_azure_aks import arm
from sigma_azure_aks.analytics.render import arm_bundle
from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.commands import main
from sigma_azure_aks.lifecycle.manifest import read_manifest
from sigma_azure_aks.lifecycle.plan import make_plan
from sigma_azure_aks.lifecycle.workspace import rules_from_document

RULE_ID = "0c3c5a0e-8f4b-4c56-9d4e-5b1a2f3c4d5e"
INJECTION = "[listKeys(resourceId('Microsoft.Storage/storageAccounts','st1'),'2019-06-01').keys[0].value]"
OUR_NAME = f"[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{RULE_ID}')]"


def deploys_as(text: str) -> tuple[bool, str]:
    """(evaluated?, the value deployed for a literal) of one ARM string, by the documented rule."""
    if text.startswith("[") and text.endswith("]"):
        if text.startswith("[["):
            return False, text[1:]
        return True, text
    return False, text


def strings(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        keys = [((*path, key, "<name>"), key) for key in value]  # property names: the same rule
        return keys + [found for key, item in value.items() for found in strings(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in strings(item, (*path, index))]
    return []


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def rule_dict(title: str, text: str, value: str) -> dict[str, Any]:
    return {
        "title": title,
        "id": RULE_ID,
        "status": "test",
        "description": text,
        "author": text,
        "license": text,
        "references": [text, f"{text}]"],
        "falsepositives": [text],
        "logsource": {"product": "azure", "service": "activitylogs"},
        "detection": {"selection": {"Caller": value}, "condition": "selection"},
        "level": "high",
    }


def convert(rule: dict[str, Any], output_format: str) -> Any:
    output = SentinelBackend().convert(SigmaCollection.from_dicts([rule]), output_format)
    return json.loads(output if isinstance(output, str) else output[0])


def assert_no_rule_text_evaluated(template: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    """Every string of `template` but our resource names deploys as the REST body's text."""
    for number, resource in enumerate(template["resources"]):
        for path, text in strings(resource):
            evaluated, value = deploys_as(text)
            if path == ("name",):
                assert evaluated and text == OUR_NAME.replace(RULE_ID, bodies[number]["name"])
                continue
            assert not evaluated, (path, text)
            if path[-1] == "<name>":
                assert value in at(bodies[number], path[:-2]) if path[:-2] else True, path
                continue
            assert path[0] != "properties" or value == at(bodies[number]["properties"], path[1:]), path
    for path, text in strings({k: v for k, v in template.items() if k != "resources"}):
        assert not deploys_as(text)[0], path


rule_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda inner: f"[{inner}]", st.text(max_size=40)),
    st.builds(lambda inner: f"[[{inner}]", st.text(max_size=20)),
    st.sampled_from([INJECTION, "[", "]", "[]", "[[]", "[[", "[x] y", "x [y]"]),
)
title_text = rule_text.filter(lambda text: text.strip() and " ".join(text.split()))


@settings(max_examples=60, deadline=None)
@given(title=title_text, text=rule_text, value=st.text(min_size=1, max_size=20))
def test_no_rule_text_is_ever_an_arm_expression(title, text, value):
    rule = rule_dict(title, text, value)
    template = convert(rule, "arm")
    body = convert(rule, "json")
    assert_no_rule_text_evaluated(template, [body])
    bundle = json.loads(arm_bundle([json.dumps(template), json.dumps(template)]))
    assert_no_rule_text_evaluated(bundle, [body, body])
    assert deploys_as(template["resources"][0]["properties"]["displayName"])[1] == " ".join(title.split())


def test_the_listkeys_title_deploys_as_text_everywhere_and_stays_data_in_json_and_yaml(tmp_path, capsys):
    rule = rule_dict(INJECTION, INJECTION, "x")
    properties = convert(rule, "arm")["resources"][0]["properties"]
    assert properties["displayName"] == "[" + INJECTION
    assert properties["description"].startswith("[" + INJECTION)
    assert convert(rule, "json")["properties"]["displayName"] == INJECTION  # REST: data, not evaluated
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(json.dumps(rule), encoding="utf-8")
    assert (
        main(["export", str(tmp_path / "rules"), "--out", str(tmp_path / "out"), "--format", "arm,yaml"]) == 0
    )
    capsys.readouterr()
    single = json.loads(next((tmp_path / "out" / "arm").glob("*.json")).read_text(encoding="utf-8"))
    bundle = json.loads(
        (tmp_path / "out" / "bundles" / "azure-sentinel-rules-001.json").read_text(encoding="utf-8")
    )
    for template in (single, bundle):
        assert template["resources"][0]["properties"]["displayName"] == "[" + INJECTION
    yaml_text = next((tmp_path / "out" / "yaml").glob("*.yaml")).read_text(encoding="utf-8")
    assert yaml.safe_load(yaml_text)["name"] == INJECTION  # YAML: data, not evaluated
    # the manifest hashes what the deployment writes, so the workspace's copy (deployed text) agrees
    manifest = read_manifest(tmp_path / "out")
    deployed = {
        "value": [
            {"name": RULE_ID, "kind": "Scheduled", "properties": convert(rule, "json")["properties"]},
        ]
    }
    workspace = {rule.key: rule for rule in rules_from_document(deployed, "rest.json")}
    assert [entry.action for entry in make_plan(manifest, manifest, workspace).entries] == ["unchanged"]
    from_template = {rule.key: rule for rule in rules_from_document(single, "arm.json")}
    assert from_template[RULE_ID].properties["displayName"] == INJECTION


def test_escaping_follows_the_documented_examples():
    assert arm.literal("[test value]") == "[[test value]"
    assert arm.literal("[test] value") == "[test] value"  # no closing bracket at the end: a literal
    assert arm.literal("value [x]") == "value [x]"
    assert arm.deployed("[[test value]") == "[test value]"
    assert arm.is_expression("[concat('a')]") and not arm.is_expression("[[concat('a')]")
    assert arm.string_literal("it's") == "'it''s'"


def test_a_rule_id_is_quoted_inside_the_resource_name():
    from sigma_azure_aks.analytics.render import arm_resource_name
    from sigma_azure_aks.lifecycle.workspace import name_from_arm

    name = arm_resource_name("a'b")
    assert name == "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/a''b')]"
    assert name_from_arm(name) == "a'b"


def test_documented_in_formats(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "docs" / "formats.md").read_text(encoding="utf-8")
    assert "[[" in text and "not evaluated" in text


def test_a_correlation_rule_title_is_an_arm_literal_too(tmp_path, capsys):
    bases = "\n".join(
        [
            "title: Role write failed",
            "id: 0c0f0000-0000-4000-8000-000000000001",
            "name: failed",
            "status: test",
            "logsource: {product: azure, service: activitylogs}",
            "detection:",
            "    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE}",
            "    condition: sel",
            "---",
            f'title: "{INJECTION}"',
            "id: 0c0f0000-0000-4000-8000-0000000000c1",
            "status: test",
            "level: high",
            "correlation:",
            "    type: event_count",
            "    rules: [failed]",
            "    group-by: [Caller]",
            "    timespan: 10m",
            "    condition: {gte: 5}",
        ]
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "c.yml").write_text(bases + "\n", encoding="utf-8")
    assert main(["export", str(tmp_path / "rules"), "--out", str(tmp_path / "out"), "--format", "arm"]) == 0
    capsys.readouterr()
    bundle = json.loads((tmp_path / "out" / "bundles" / "azure-sentinel-rules-001.json").read_text("utf-8"))
    titles = [r["properties"]["displayName"] for r in bundle["resources"]]
    assert "[" + INJECTION in titles
    for path, text in strings(bundle["resources"]):
        assert path[1] == "name" or not deploys_as(text)[0], (path, text)


def test_same_file_matches_old_and_new_source_spellings():
    from sigma_azure_aks.lifecycle.manifest import same_file

    assert same_file("rules/x.yml", "x.yml") and same_file("/abs/rules/x.yml", "rules/x.yml")
    assert same_file("./x.yml", "x.yml") and not same_file("rules/ax.yml", "x.yml")
    assert not same_file("a/x.yml", "b/x.yml") and not same_file("", "x.yml")
