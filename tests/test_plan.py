"""`sigma-azure-aks plan`: two exports (a rule removed, one changed) and a workspace (one edited in the
portal, one rule never ours), in text and JSON; exit codes; inputs it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lifecycle_support import (
    IDS,
    NEW_ID,
    UNMANAGED,
    bundle,
    export,
    first_and_second,
    portal_export,
    resource_of,
    write_rule,
)

from sigma_azure_aks.commands import main


def plan(*args: str) -> list[str]:
    return ["plan", *args]


@pytest.fixture
def exports(tmp_path: Path) -> tuple[Path, Path, Path]:
    one, two = first_and_second(tmp_path)
    return one, two, portal_export(one, tmp_path / "workspace.json")


def lines_by_rule(out: str) -> dict[str, str]:
    return {line.split()[2]: line for line in out.splitlines()}


def test_removed_changed_drifted_and_unmanaged(exports, capsys):
    one, two, workspace = exports
    capsys.readouterr()
    assert main(plan(str(two), "--previous", str(one), "--workspace", str(workspace))) == 0
    captured = capsys.readouterr()
    lines = lines_by_rule(captured.out)
    assert sorted(lines) == sorted([IDS["changed"], IDS["removed"], IDS["edited"], UNMANAGED])
    assert lines[IDS["changed"]].startswith(f"~ change    {IDS['changed']}  Rule changed (")
    assert lines[IDS["changed"]].endswith(" (changed.yml): changes severity")
    assert lines[IDS["removed"]].startswith(f"- remove    {IDS['removed']}  Rule removed (")
    assert lines[IDS["removed"]].endswith(" (removed.yml): delete it")
    assert lines[IDS["edited"]].startswith(f"! drift     {IDS['edited']}  Rule edited (")
    assert lines[IDS["edited"]].endswith(
        "edited in the workspace since the last deployment: enabled, query; deploying restores the exported rule"
    )
    assert lines[UNMANAGED] == (
        f"? unmanaged {UNMANAGED}  Advanced Multistage Attack Detection: Fusion rule not managed by these "
        "exports; left alone"
    )
    assert captured.err == (
        "plan: 0 to add, 1 to change, 1 to remove, 1 drifted, 1 unchanged, 1 unmanaged (changes pending)\n"
    )


def test_json_lists_every_rule_and_what_to_delete(exports, capsys):
    one, two, workspace = exports
    capsys.readouterr()
    assert (
        main(plan(str(two), "--previous", str(one), "--workspace", str(workspace), "--format", "json")) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "sigma-azure-aks/plan" and result["version"] == 1
    assert result["summary"] == {
        "add": 0,
        "change": 1,
        "remove": 1,
        "drift": 1,
        "keep": 0,
        "unchanged": 1,
        "unmanaged": 1,
    }
    assert result["pending"] is True
    assert result["delete"] == [IDS["removed"]]  # never the unmanaged Fusion rule
    by_rule = {entry["alert_rule"]: entry for entry in result["rules"]}
    assert by_rule[IDS["changed"]]["properties"] == ["severity"]
    assert by_rule[IDS["edited"]]["action"] == "drift"
    assert by_rule[IDS["edited"]]["drifted"] == ["enabled", "query"]
    assert by_rule[IDS["kept"]]["action"] == "unchanged"
    assert by_rule[UNMANAGED] | {"note": ""} == {
        "action": "unmanaged",
        "alert_rule": UNMANAGED,
        "title": "Advanced Multistage Attack Detection",
        "sigma_id": None,
        "source": None,
        "properties": [],
        "drifted": [],
        "in_workspace": True,
        "pending": False,
        "note": "",
    }
    assert result["new"].endswith("sentinel-manifest.json")


def test_manifests_only_and_workspace_only(exports, capsys):
    one, two, workspace = exports
    capsys.readouterr()
    assert main(plan(str(two), "--previous", str(one / "sentinel-manifest.json"))) == 0
    lines = lines_by_rule(capsys.readouterr().out)
    assert sorted(lines) == sorted([IDS["changed"], IDS["removed"]])  # no workspace: no drift known
    assert main(plan(str(two), "--workspace", str(workspace))) == 0
    captured = capsys.readouterr()
    lines = lines_by_rule(captured.out)
    # without the previous manifest nothing is ours to delete: the removed rule is unmanaged
    assert lines[IDS["removed"]].startswith(f"? unmanaged {IDS['removed']}  Rule removed: Scheduled rule")
    assert "its description names a Sigma rule" in lines[IDS["removed"]]
    assert lines[IDS["changed"]].endswith(
        "changes severity; in the workspace, not in the previous manifest; deploying overwrites it"
    )
    assert lines[IDS["edited"]].startswith(f"~ change    {IDS['edited']}")
    assert "warning: no --previous manifest: removed rules cannot be found" in captured.err


def test_added_and_deleted_in_the_workspace(tmp_path, capsys):
    one, _ = first_and_second(tmp_path)
    write_rule(tmp_path / "rules1", "new", rule_id=NEW_ID)
    assert export(tmp_path / "rules1", tmp_path / "three") == 0
    template = bundle(one)
    template["resources"].remove(resource_of(template, IDS["kept"]))
    (tmp_path / "ws.json").write_text(json.dumps(template))
    capsys.readouterr()
    args = plan(str(tmp_path / "three"), "--previous", str(one), "--workspace", str(tmp_path / "ws.json"))
    assert main(args) == 0
    lines = lines_by_rule(capsys.readouterr().out)
    assert sorted(lines) == sorted([NEW_ID, IDS["kept"]])
    assert lines[NEW_ID].startswith(f"+ add       {NEW_ID}  Rule new (")
    assert lines[IDS["kept"]].endswith("deleted in the workspace; deploying creates it again")


def test_a_rule_that_fails_in_the_new_export_is_kept(tmp_path, capsys):
    one, _ = first_and_second(tmp_path)
    (tmp_path / "rules1" / "removed.yml").write_text("title: [broken\n")
    assert export(tmp_path / "rules1", tmp_path / "broken") == 1
    capsys.readouterr()
    assert main(plan(str(tmp_path / "broken"), "--previous", str(one), "--format", "json")) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["delete"] == []
    entry = next(e for e in result["rules"] if e["alert_rule"] == IDS["removed"])
    assert entry["action"] == "keep" and "failed in the new export" in entry["note"]
    assert "warning: the new export has 1 failed rule(s)" in captured.err


def test_exit_codes(exports, capsys):
    one, two, workspace = exports
    assert main(plan(str(two), "--previous", str(one), "--detailed-exitcode")) == 5
    assert main(plan(str(one), "--previous", str(one), "--detailed-exitcode")) == 0
    # deployed as exported: the workspace agrees with the manifest, whatever its formatting
    (workspace.parent / "deployed.json").write_text(json.dumps(bundle(one), indent=None))
    args = plan(str(one), "--previous", str(one), "--workspace", str(workspace.parent / "deployed.json"))
    assert main([*args, "--detailed-exitcode"]) == 0
    assert (
        main(plan(str(one), "--previous", str(one), "--workspace", str(workspace), "--detailed-exitcode"))
        == 5
    )
    capsys.readouterr()
    assert main(plan(str(one), "--previous", str(one), "--verbose")) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 4 and all(line.startswith("  unchanged ") for line in out.splitlines())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "error: no such file or folder: {d}/missing\n"),
        (lambda d: d, "error: {d}: no sentinel-manifest.json in this folder"),
        (
            lambda d: _write(d / "m.json", '{"format": '),
            "error: {d}/m.json: not valid JSON: Expecting value at line 1, column 12\n",
        ),
        (lambda d: _write(d / "m.json", "[]"), "error: {d}/m.json: not a sigma-azure-aks manifest"),
        (lambda d: _write(d / "m.json", b"\xff\xfe{"), "error: {d}/m.json: not UTF-8 text"),
        (
            lambda d: _write(
                d / "m.json", '{"format": "sigma-azure-aks/sentinel-manifest", "version": 9, "rules": []}'
            ),
            "error: {d}/m.json: manifest version 9; this sigma-azure-aks reads version 1",
        ),
        (
            lambda d: _write(
                d / "m.json", '{"format": "sigma-azure-aks/sentinel-manifest", "version": 1, "rules": [{}]}'
            ),
            "error: {d}/m.json: rules [0]: not a manifest rule (needs alert_rule, kind, content_hash, property_hashes)",
        ),
    ],
)
def test_a_manifest_it_cannot_read_is_one_clean_error(tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main(plan(str(path))) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message.format(d=tmp_path))
    assert captured.err.count("\n") == 1 and captured.out == ""


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON: Expecting value at line 1, column 1"),
        (
            '{"rules": []}',
            "not a workspace's alert rules: expected an ARM template with alertRules resources",
        ),
        ("[1]", "item [0] is no alert rule"),
        (
            '{"resources": [{"type": "Microsoft.SecurityInsights/alertRules", "kind": "Scheduled", '
            '"name": "[parameters(\'ruleId\')]", "properties": {}}]}',
            "resources [0]: no alert rule name this tool can read",
        ),
    ],
)
def test_a_workspace_export_it_cannot_read_is_one_clean_error(exports, capsys, content, message):
    one, two, workspace = exports
    _write(workspace, content)
    capsys.readouterr()
    assert main(plan(str(two), "--previous", str(one), "--workspace", str(workspace))) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {workspace}: {message}" + captured.err.split(message, 1)[1]
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert main(plan(str(two), "--workspace", str(workspace.parent / "nothere.json"))) == 2
    assert capsys.readouterr().err == f"error: no such file or folder: {workspace.parent / 'nothere.json'}\n"


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_changed_and_edited_and_a_removed_rule_already_gone(tmp_path, capsys):
    one, two = first_and_second(tmp_path)
    template = bundle(one)
    resource_of(template, IDS["changed"])["properties"]["queryFrequency"] = "PT2H"
    template["resources"].remove(resource_of(template, IDS["removed"]))
    (tmp_path / "ws.json").write_text(json.dumps(template))
    capsys.readouterr()
    args = plan(
        str(two), "--previous", str(one), "--workspace", str(tmp_path / "ws.json"), "--format", "json"
    )
    assert main([*args, "--detailed-exitcode"]) == 5
    result = json.loads(capsys.readouterr().out)
    by_rule = {entry["alert_rule"]: entry for entry in result["rules"]}
    changed = by_rule[IDS["changed"]]
    assert (changed["action"], changed["properties"], changed["drifted"]) == (
        "change",
        ["severity"],
        ["queryFrequency"],
    )
    removed = by_rule[IDS["removed"]]
    assert (removed["action"], removed["in_workspace"], removed["pending"]) == ("remove", False, False)
    assert result["delete"] == []
    assert main(args[:-2]) == 0
    lines = lines_by_rule(capsys.readouterr().out)
    assert lines[IDS["changed"]].endswith(
        "changes severity; edited in the workspace since the last deployment: queryFrequency"
    )
    assert lines[IDS["removed"]].endswith("not in the workspace any more: nothing to delete")
