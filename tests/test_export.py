"""`sigma-azure-aks export`: files per rule and format, bundles, failures, determinism."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from sigma_azure_aks.commands import main
from sigma_azure_aks.export import base_name, slug

REPO_ROOT = Path(__file__).resolve().parent.parent
RULE = """title: {title}
id: {rule_id}
status: test
author: Jane Doe
logsource:
  product: azure
  service: activitylogs
detection:
  selection:
    operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE
  condition: selection
level: high
"""


def corpus() -> Path:
    configured = os.environ.get("SIGMA_AZURE_AKS_SHARED")
    base = Path(configured) if configured else REPO_ROOT.parent / "shared"
    path = base / "corpus" / "sigmahq" / "activitylogs"
    if not path.is_dir():
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_rules(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        rule_id = f"00000000-0000-4000-8000-{number:012d}"
        (folder / f"rule_{number:03d}.yml").write_text(RULE.format(title=f"Rule {number}", rule_id=rule_id))


def test_slug_and_name():
    assert slug("Azure Kubernetes CronJob") == "azure-kubernetes-cronjob"
    assert slug("  Weird: (title) / ÄÖ  ") == "weird-title"
    assert slug("!!!") == "rule"
    assert len(slug("x" * 100)) == 60


def test_export_corpus_every_format_and_deterministic(tmp_path, capsys):
    source = corpus()
    first, second = tmp_path / "one", tmp_path / "two"
    args = ["export", str(source), "--format", "arm,yaml,kql,json"]
    assert main([*args, "--out", str(first)]) == 0
    err = capsys.readouterr().err
    assert err.endswith("35 rules converted, 0 failed\n")
    assert main([*args, "--out", str(second)]) == 0
    files = snapshot(first)
    assert files == snapshot(second)
    for fmt, ext in (("arm", "json"), ("yaml", "yaml"), ("kql", "kql"), ("json", "json")):
        assert len([name for name in files if name.startswith(f"{fmt}/") and name.endswith(f".{ext}")]) == 35
    assert sorted(name for name in files if name.startswith("bundles/")) == [
        "bundles/azure-sentinel-rules-001.json"
    ]
    assert len(files) == 4 * 35 + 2  # and the bundle and the manifest
    assert len(json.loads(files["sentinel-manifest.json"])["rules"]) == 35
    seed = "azure-kubernetes-cronjob_1c71e254"
    assert f"kql/{seed}.kql" in files
    assert (
        files[f"kql/{seed}.kql"].decode().startswith("AzureActivity\n| where (OperationNameValue startswith")
    )
    template = json.loads(files[f"arm/{seed}.json"])
    assert [r["properties"]["techniques"] for r in template["resources"]] == [["T1053"]]
    assert yaml.safe_load(files[f"yaml/{seed}.yaml"])["relevantTechniques"] == ["T1053.003"]
    bundle = json.loads(files["bundles/azure-sentinel-rules-001.json"])
    assert len(bundle["resources"]) == 35


def test_bundles_hold_at_most_50_rules(tmp_path, capsys):
    write_rules(tmp_path / "rules", 51)
    out = tmp_path / "out"
    assert main(["export", str(tmp_path / "rules"), "--out", str(out), "--format", "arm"]) == 0
    bundles = sorted((out / "bundles").glob("*.json"))
    assert [p.name for p in bundles] == ["azure-sentinel-rules-001.json", "azure-sentinel-rules-002.json"]
    assert [len(json.loads(p.read_text())["resources"]) for p in bundles] == [50, 1]
    assert sorted(p.name for p in (out).iterdir()) == ["arm", "bundles", "sentinel-manifest.json"]
    # fewer rules later: the stale bundle goes, unrelated files stay
    (out / "notes.txt").write_text("mine")
    (out / "bundles" / "README.md").write_text("mine")
    for path in sorted((tmp_path / "rules").glob("*.yml"))[10:]:
        path.unlink()
    assert main(["export", str(tmp_path / "rules"), "--out", str(out), "--format", "arm"]) == 0
    assert sorted(p.name for p in (out / "bundles").iterdir()) == [
        "README.md",
        "azure-sentinel-rules-001.json",
    ]
    assert (out / "notes.txt").read_text() == "mine"
    assert capsys.readouterr().err.endswith("10 rules converted, 0 failed\n")


def test_failures_are_reported_and_do_not_stop_the_others(tmp_path, capsys):
    rules = tmp_path / "rules"
    write_rules(rules, 2)
    (rules / "broken.yml").write_text("title: [unclosed\n")
    (rules / "deprecated.yml").write_text(
        RULE.format(title="Old", rule_id="00000000-0000-4000-8000-00000000aaaa").replace(
            "status: test", "status: deprecated"
        )
    )
    (rules / "frequency.yml").write_text(
        RULE.format(title="Fast", rule_id="00000000-0000-4000-8000-00000000bbbb")
        + "sentinel:\n  query_frequency: 1m\n"
    )
    out = tmp_path / "out"
    assert main(["export", str(rules), "--out", str(out), "--format", "kql,yaml"]) == 1
    err = capsys.readouterr().err
    assert err.endswith("2 rules converted, 3 failed\n")
    assert f"error: {rules / 'broken.yml'}: not valid YAML: line " in err
    assert "deprecated.yml: rule 'Old' (00000000-0000-4000-8000-00000000aaaa): status 'deprecated'" in err
    assert "frequency.yml: rule 'Fast'" in err and "query_frequency 1m is outside Sentinel's 5m to 14d" in err
    assert sorted(snapshot(out)) == [
        "kql/rule-0_00000000.kql",
        "kql/rule-1_00000000.kql",
        "yaml/rule-0_00000000.yaml",
        "yaml/rule-1_00000000.yaml",
    ]


def test_duplicate_names_are_a_failure(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("a.yml", "b.yml"):
        (rules / name).write_text(RULE.format(title="Same", rule_id="00000000-0000-4000-8000-000000000001"))
    assert main(["export", str(rules), "--out", str(tmp_path / "out"), "--format", "kql"]) == 1
    err = capsys.readouterr().err
    assert (
        f"{rules / 'b.yml'}: rule id 00000000-0000-4000-8000-000000000001 is also used in {rules / 'a.yml'}"
        in err
    )


def test_options_and_pipeline(tmp_path):
    write_rules(tmp_path / "rules", 1)
    out = tmp_path / "out"
    args = ["export", str(tmp_path / "rules"), "--out", str(out), "--format", "json"]
    assert main([*args, "-p", "azure_activity", "-O", "query_frequency=30m", "--option", "severity=Low"]) == 0
    props = json.loads((out / "json" / "rule-0_00000000.json").read_text())["properties"]
    assert (props["queryFrequency"], props["severity"]) == ("PT30M", "Low")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "arm,pdf"], "error: unknown format(s) pdf; choose from kql, yaml, arm, json, defender\n"),
        (["-p", "no_such_pipeline"], "error: unknown pipeline 'no_such_pipeline'"),
        (["-O", "query_frequency"], "error: option 'query_frequency' is not KEY=VALUE\n"),
    ],
)
def test_usage_errors(tmp_path, capsys, extra, message):
    write_rules(tmp_path / "rules", 1)
    assert main(["export", str(tmp_path / "rules"), "--out", str(tmp_path / "out"), *extra]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not (tmp_path / "out").exists()


def test_base_name_uses_title_and_id():
    from sigma.collection import SigmaCollection

    rule = SigmaCollection.from_yaml(
        RULE.format(title="VM deleted!", rule_id="abcdef12-0000-4000-8000-000000000001")
    ).rules[0]
    assert base_name(rule) == "vm-deleted_abcdef12"
