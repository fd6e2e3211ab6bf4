"""`plan` never proposes deleting a rule still in the repository; `export` refuses one id twice;
a page of the workspace's REST list is not the workspace.

The property test draws repositories (path spellings, renames, broken files, duplicate ids, rules
outside the paths exported, partial workspace listings) and checks, on the plan's own JSON, that
no rule whose id is still in some rule file of the repository is ever in `delete`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_support import IDS, OPERATIONS, RULE, bundle, export, write_rule

from sigma_azure_aks.commands import main

ID_LINE = re.compile(r"^id:\s*(\S+)", re.MULTILINE)


def run_plan(capsys, new: Path, previous: Path, *workspace: Path) -> tuple[int, dict, str]:
    capsys.readouterr()
    args = ["plan", str(new), "--previous", str(previous), "--format", "json"]
    for path in workspace:
        args += ["--workspace", str(path)]
    code = main(args)
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {}), captured.err


def ids_in_repository(folder: Path) -> set[str]:
    """Every id some rule file under `folder` names (a broken file's too)."""
    found = set()
    for path in folder.rglob("*.yml"):
        found.update(ID_LINE.findall(path.read_text(encoding="utf-8", errors="replace")))
    return found


# ---- class 15: path spellings, broken files, files outside the paths exported --------------------


def test_sources_are_the_same_whatever_spelling_export_was_given(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    for name in OPERATIONS:
        write_rule(repo / "rules", name)
    monkeypatch.chdir(repo)
    assert export(Path("rules"), tmp_path / "relative") == 0
    monkeypatch.chdir(tmp_path)
    assert export(repo / "rules", tmp_path / "absolute") == 0
    assert export(Path("repo/rules/../rules"), tmp_path / "dotted") == 0
    sources = [
        sorted(
            r["source"] for r in json.loads((tmp_path / d / "sentinel-manifest.json").read_text())["rules"]
        )
        for d in ("relative", "absolute", "dotted")
    ]
    assert sources[0] == sources[1] == sources[2] == sorted(f"{name}.yml" for name in OPERATIONS)


def test_a_rule_whose_file_breaks_is_kept_whatever_the_spelling(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    for name in OPERATIONS:
        write_rule(repo / "rules", name)
    monkeypatch.chdir(repo)
    assert export(Path("rules"), tmp_path / "one") == 0
    (repo / "rules" / "removed.yml").write_text("title: [broken\nid: " + IDS["removed"] + "\n")
    monkeypatch.chdir(tmp_path / "one")
    assert export(repo / "rules", tmp_path / "two") == 1  # absolute, from another folder
    code, result, err = run_plan(capsys, tmp_path / "two", tmp_path / "one")
    assert code == 0 and result["delete"] == []
    entry = next(e for e in result["rules"] if e["alert_rule"] == IDS["removed"])
    assert entry["action"] == "keep" and entry["source"] == "removed.yml"
    assert "failed in the new export" in entry["note"]


def test_a_file_nobody_could_read_keeps_every_rule_the_new_export_lacks(tmp_path, capsys):
    for name in OPERATIONS:
        write_rule(tmp_path / "rules", name)
    assert export(tmp_path / "rules", tmp_path / "one") == 0
    (tmp_path / "rules" / "removed.yml").rename(tmp_path / "rules" / "moved.yml")
    (tmp_path / "rules" / "moved.yml").write_bytes(b"\xff\xfe not text")  # renamed and unreadable
    assert export(tmp_path / "rules", tmp_path / "two") == 1
    code, result, _ = run_plan(capsys, tmp_path / "two", tmp_path / "one")
    assert code == 0 and result["delete"] == []
    entry = next(e for e in result["rules"] if e["alert_rule"] == IDS["removed"])
    assert entry["action"] == "keep"
    assert entry["note"] == (
        "the new export could not read 1 file(s) (moved.yml) that may hold it, so it is kept; fix them"
    )


def test_a_rule_outside_the_paths_exported_is_kept_in_a_repository(tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # the top of a work tree: the rules root
    write_rule(repo / "rules" / "azure", "kept")
    write_rule(repo / "rules" / "other", "removed")
    assert export(repo / "rules", tmp_path / "one") == 0
    assert export(repo / "rules" / "azure", tmp_path / "two") == 0
    manifest = json.loads((tmp_path / "two" / "sentinel-manifest.json").read_text())
    assert manifest["rules"][0]["source"] == "rules/azure/kept.yml"
    code, result, _ = run_plan(capsys, tmp_path / "two", tmp_path / "one")
    assert code == 0 and result["delete"] == []
    entry = next(e for e in result["rules"] if e["alert_rule"] == IDS["removed"])
    assert entry["action"] == "keep" and entry["note"].startswith("its file is still in the repository")
    (repo / "rules" / "other" / "removed.yml").unlink()  # now it is gone: removed
    code, result, _ = run_plan(capsys, tmp_path / "two", tmp_path / "one")
    assert result["delete"] == [IDS["removed"]]


# ---- class 16: two rules with one id --------------------------------------------------------------


def test_export_refuses_two_rule_files_with_one_id_naming_both(tmp_path, capsys):
    rules = tmp_path / "rules"
    write_rule(rules, "kept")
    write_rule(rules, "changed", rule_id=IDS["kept"])
    write_rule(rules, "edited")
    capsys.readouterr()
    assert export(rules, tmp_path / "out") == 1
    err = capsys.readouterr().err
    first, second = (rules / "changed.yml").as_posix(), (rules / "kept.yml").as_posix()
    assert err.splitlines() == [
        f"error: {first}: rule 'Rule changed' ({IDS['kept']}): another rule has the same id ({second}); "
        "Sentinel names the alert rule by it, so one would overwrite the other: give each rule an id of its own",
        f"error: {second}: rule 'Rule kept' ({IDS['kept']}): another rule has the same id ({first}); "
        "Sentinel names the alert rule by it, so one would overwrite the other: give each rule an id of its own",
        "1 rules converted, 2 failed",
    ]
    names = [r["name"] for r in bundle(tmp_path / "out")["resources"]]
    assert len(names) == 1 and IDS["edited"] in names[0]
    assert sorted(p.name for p in (tmp_path / "out" / "arm").iterdir()) == ["rule-edited_00000000.json"]
    failures = json.loads((tmp_path / "out" / "sentinel-manifest.json").read_text())["failures"]
    assert sorted((f["source"], f["sigma_id"]) for f in failures) == [
        ("changed.yml", IDS["kept"]),
        ("kept.yml", IDS["kept"]),
    ]


def test_one_id_twice_in_one_file_is_refused(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    text = RULE.format(title="A", rule_id=IDS["kept"], operation=OPERATIONS["kept"], level="high")
    other = RULE.format(title="B", rule_id=IDS["kept"], operation=OPERATIONS["removed"], level="high")
    (rules / "two.yml").write_text(text + "---\n" + other, encoding="utf-8")
    capsys.readouterr()
    assert export(rules, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"rule 'A' ({IDS['kept']}): another rule has the same id (this file)" in err
    assert f"rule 'B' ({IDS['kept']}): another rule has the same id (this file)" in err


def test_sigma_convert_to_arm_refuses_one_id_twice(tmp_path):
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    from sigma_azure_aks.backend import SentinelBackend

    rules = [
        RULE.format(title=title, rule_id=IDS["kept"], operation=OPERATIONS["kept"], level="high")
        for title in ("A", "B")
    ]
    for output_format in ("arm", "json"):
        with pytest.raises(SigmaError, match="give each rule an id of its own"):
            SentinelBackend().convert(SigmaCollection.from_yaml("---\n".join(rules)), output_format)


# ---- class 17: one page of the workspace's REST list ----------------------------------------------


def _rest_list(template: dict, next_link: str | None = None) -> dict:
    value = [
        {"name": r["name"].rsplit("/", 1)[-1].rstrip("')]"), "kind": r["kind"], "properties": r["properties"]}
        for r in template["resources"]
    ]
    document: dict = {"value": value}
    if next_link is not None:
        document["nextLink"] = next_link
    return document


def test_one_page_of_the_rest_list_is_refused_and_the_merged_pages_are_read(tmp_path, capsys):
    for name in OPERATIONS:
        write_rule(tmp_path / "rules", name)
    assert export(tmp_path / "rules", tmp_path / "one") == 0
    full = _rest_list(bundle(tmp_path / "one"))
    first = {"value": full["value"][:2], "nextLink": "https://management.azure.com/...&$skipToken=abc"}
    page = tmp_path / "page-1.json"
    page.write_text(json.dumps(first), encoding="utf-8")
    code, _, err = run_plan(capsys, tmp_path / "one", tmp_path / "one", page)
    assert code == 2
    assert err == (
        f"error: {page}: one page of the REST API's list (it has a `nextLink`): the workspace holds more "
        "alert rules than this file, and a plan on part of them would miss rules; give every page merged "
        "into one list (`jq -s '{value: (map(.value) | add)}' page-*.json > rules.json`) or "
        "`az sentinel alert-rule list`\n"
    )
    merged = tmp_path / "rules.json"
    merged.write_text(json.dumps({"value": full["value"], "nextLink": None}), encoding="utf-8")
    code, result, _ = run_plan(capsys, tmp_path / "one", tmp_path / "one", merged)
    assert code == 0 and result["summary"]["unchanged"] == len(OPERATIONS) and result["delete"] == []


# ---- the property: no rule still in the repository is ever deleted -------------------------------

CHANGES = ("same", "removed", "renamed", "broken", "renamed_broken", "duplicated", "new_id", "moved_out")
SPELLINGS = ("relative", "absolute", "dotted")


def _spelled(path: Path, spelling: str, base: Path) -> Path:
    if spelling == "absolute":
        return path.resolve()
    relative = Path(os.path.relpath(path, base))
    return relative if spelling == "relative" else Path(relative.parts[0], "..", *relative.parts)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(st.sampled_from(CHANGES), min_size=len(OPERATIONS), max_size=len(OPERATIONS)).filter(
        lambda changes: any(change not in ("removed", "moved_out") for change in changes)  # a rule is left
    ),
    spellings=st.tuples(st.sampled_from(SPELLINGS), st.sampled_from(SPELLINGS)),
    git=st.booleans(),
    paged=st.booleans(),
)
def test_no_rule_still_in_the_repository_is_ever_deleted(
    tmp_path_factory, capsys, changes, spellings, git, paged
):
    base = tmp_path_factory.mktemp("plan")
    repo = base / "repo"
    rules = repo / "rules" / "main"
    if git:
        (repo / ".git").mkdir(parents=True)
    for name in OPERATIONS:
        write_rule(rules, name)
    cwd = os.getcwd()
    try:
        os.chdir(base)
        assert export(_spelled(repo / "rules", spellings[0], base), base / "one") == 0
        for name, change in zip(OPERATIONS, changes, strict=True):
            path = rules / f"{name}.yml"
            if change == "removed":
                path.unlink()
            elif change in ("renamed", "renamed_broken"):
                path = path.rename(rules / f"{name}-renamed.yml")
            if change in ("broken", "renamed_broken"):
                path.write_text("title: [broken\nid: " + IDS[name] + "\n", encoding="utf-8")
            elif change == "duplicated":
                write_rule(rules / "copies", name)
            elif change == "new_id":
                write_rule(rules, name, rule_id=IDS[name][:-3] + "fff")
            elif change == "moved_out":
                shutil.move(str(path), str(repo / f"{name}.yml"))  # in the repository, not under rules/
        export(_spelled(repo / "rules", spellings[1], base), base / "two")
        workspace = base / "ws.json"
        listing = _rest_list(bundle(base / "one"), "https://next" if paged else None)
        workspace.write_text(json.dumps(listing), encoding="utf-8")
        code, result, err = run_plan(capsys, base / "two", base / "one", workspace)
    finally:
        os.chdir(cwd)
    if paged:
        assert code == 2 and "one page of the REST API's list" in err
        return
    assert code == 0
    present = ids_in_repository(repo / "rules")  # under the paths exported (moved out: retired)
    assert not set(result["delete"]) & present, (changes, spellings, result["delete"])
    gone = {
        IDS[name]
        for name, change in zip(OPERATIONS, changes, strict=True)
        if change in ("removed", "moved_out")
    }
    if not any(change in ("broken", "renamed_broken") for change in changes):
        assert set(result["delete"]) >= gone - present  # what is really gone is deleted


def test_a_file_found_under_two_paths_given_is_exported_once(tmp_path, capsys):
    write_rule(tmp_path / "rules" / "sub", "kept")
    capsys.readouterr()
    code = main(
        ["export", str(tmp_path / "rules"), str(tmp_path / "rules" / "sub"), "--out", str(tmp_path / "o")]
    )
    assert code == 0 and capsys.readouterr().err == "1 rules converted, 0 failed\n"
