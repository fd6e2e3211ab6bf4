"""SigmaHQ's own checks on our rules and examples, as SigmaHQ's CI runs them on its rules: its rule
tests (`tests/test_rules.py`, `tests/test_logsource.py`), yamllint with its configuration, and
`sigma check --fail-on-error --fail-on-issues` with its validator configuration.

Everything comes from the pinned copy in `tests/sigmahq/` (its README names the commit, the licences
and the one change made: the list of rule folders); SigmaHQ's tools run in `.venv-sigmahq`, which
scripts/test.sh makes (its validators fetch data when imported: kept out of our environments). Network-free: the validators' reference data is
the one their package ships, and MITRE ATT&CK comes from SigmaHQ's own ATT&CK coverage layer
(ATT&CK 19.1, every technique SigmaHQ's rules use with all of its tactics), turned into the STIX
bundle that pySigma reads; MITRE D3FEND is an empty ontology (neither SigmaHQ nor we use d3fend tags).

Which files are Sigma rules is decided by content: YAML whose every document has a `title` and a
`detection`, `correlation` or `filter` section (so the GitHub Actions example is not one)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDORED = REPO_ROOT / "tests" / "sigmahq"
RULE_FOLDERS = ("rules", "examples")
RULE_SECTIONS = frozenset({"detection", "correlation", "filter"})
TIMEOUT_SECONDS = 600
# The environment of SigmaHQ's tools (scripts/test.sh makes it): its validators fetch reference data
# when sigma-cli imports them, so they stay out of the project's own environments.
CHECKS_PYTHON = Path(os.environ.get("SIGMAHQ_CHECKS_PYTHON", REPO_ROOT / ".venv-sigmahq" / "bin" / "python"))


def is_sigma_rule_file(path: Path) -> bool:
    """Every YAML document of the file is a Sigma rule, correlation or filter."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError:
        return False
    return bool(documents) and all(
        isinstance(document, dict) and "title" in document and RULE_SECTIONS & document.keys()
        for document in documents
    )


def is_detection_rule_file(path: Path) -> bool:
    """A Sigma rule file holding detection rules only (no correlation or filter)."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    return all("detection" in document for document in documents)


def sigma_rule_files(root: Path = REPO_ROOT) -> list[Path]:
    """The Sigma rule files under our rule folders, relative to `root`."""
    return sorted(
        path.relative_to(root)
        for folder in RULE_FOLDERS
        for path in (root / folder).rglob("*.yml")
        if is_sigma_rule_file(path)
    )


def attack_stix_bundle(layer: dict, supplement: dict[str, list[str]]) -> dict:
    """The ATT&CK data of an ATT&CK Navigator layer written by `sigma analyze attack` (one entry per
    technique and tactic), with the techniques of `supplement`, as the STIX bundle pySigma's ATT&CK
    loader reads: the version, the tactics by short name and each technique with its tactics.
    Technique names are not in a layer; the id stands in for the name, which no check reads."""
    tactics_of: dict[str, list[str]] = {}
    for entry in layer["techniques"]:
        tactics_of.setdefault(entry["techniqueID"], []).append(entry["tactic"])
    for technique, tactics in supplement.items():
        assert technique not in tactics_of, f"{technique} is in SigmaHQ's layer: drop it from the supplement"
        tactics_of[technique] = list(tactics)

    def reference(external_id: str) -> list[dict]:
        return [{"source_name": "mitre-attack", "external_id": external_id}]

    tactics = sorted({tactic for names in tactics_of.values() for tactic in names})
    return {
        "type": "bundle",
        "objects": [
            {"type": "x-mitre-collection", "x_mitre_version": layer["versions"]["attack"]},
            *(
                {
                    "type": "x-mitre-tactic",
                    "x_mitre_shortname": tactic,
                    "external_references": reference(tactic),
                }
                for tactic in tactics
            ),
            *(
                {
                    "type": "attack-pattern",
                    "name": technique,
                    "external_references": reference(technique),
                    "kill_chain_phases": [
                        {"kill_chain_name": "mitre-attack", "phase_name": tactic} for tactic in names
                    ],
                }
                for technique, names in sorted(tactics_of.items())
            ),
        ],
    }


def attack_data() -> dict:
    """SigmaHQ's ATT&CK coverage layer and our supplement, as a STIX bundle."""
    layer = json.loads((VENDORED / "sigma_attack_nav_coverage.json").read_text())
    supplement = json.loads((VENDORED / "attack_techniques_outside_sigmahq.json").read_text())
    return attack_stix_bundle(layer, supplement["techniques"])


def copy_rule_tree(files: list[Path], source: Path, target: Path) -> Path:
    """The rule files alone, under their own relative paths: SigmaHQ's scripts walk whole folders."""
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target / relative)
    return target


def run(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"


def require_modules(*names: str) -> None:
    """Skips, saying how to get them, when SigmaHQ's tools are not in CHECKS_PYTHON's environment."""
    how = "scripts/test.sh makes .venv-sigmahq; or set SIGMAHQ_CHECKS_PYTHON"
    if not CHECKS_PYTHON.is_file():
        pytest.skip(f"no environment for SigmaHQ's checks at {CHECKS_PYTHON} ({how})")
    probe = (
        "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(n) is None for n in sys.argv[1:]))"
    )
    if subprocess.run([str(CHECKS_PYTHON), "-c", probe, *names], timeout=60).returncode:
        pytest.skip(f"not all installed beside {CHECKS_PYTHON}: {', '.join(names)} ({how})")


SIGMA_CHECK = """
import sys
from sigma.data import mitre_attack, mitre_d3fend
attack, d3fend, cache = sys.argv[1:4]
for dataset, url, folder in ((mitre_attack, attack, "attack"), (mitre_d3fend, d3fend, "d3fend")):
    dataset.set_cache_dir(cache + "/" + folder)
    dataset.set_url(url)
from sigma.cli.main import main
sys.argv = ["sigma", "check", *sys.argv[4:]]
main()
"""


def sigma_check(tree: Path, work: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """`sigma check` as SigmaHQ's CI runs it, from `tree` (where `validator_json/` is empty, so the
    SigmaHQ validators use the reference data of their package instead of fetching it)."""
    (tree / "validator_json").mkdir(exist_ok=True)
    attack = work / "attack.json"
    attack.write_text(json.dumps(attack_data()))
    d3fend = work / "d3fend.json"
    d3fend.write_text(json.dumps({"@graph": []}))
    command = [str(CHECKS_PYTHON), "-c", SIGMA_CHECK, str(attack), str(d3fend), str(work / "cache")]
    options = [
        "--fail-on-error",
        "--fail-on-issues",
        "--validation-config",
        str(VENDORED / "sigma_cli_conf.yml"),
    ]
    return run([*command, *options, *paths], cwd=tree, home=work)


@pytest.fixture(scope="module")
def rule_files() -> list[Path]:
    return sigma_rule_files()


@pytest.fixture(scope="module")
def rule_tree(rule_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_rule_tree(rule_files, REPO_ROOT, tmp_path_factory.mktemp("rules"))


@pytest.fixture(scope="module")
def detection_rule_tree(rule_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SigmaHQ's two scripts predate correlation rules (SigmaHQ's rule folders hold none at the pinned
    commit): they read every file's `logsource` and `detection`. They get the detection rules; the
    correlation files pass yamllint and `sigma check`, whose SigmaHQ validators know correlations."""
    files = [path for path in rule_files if is_detection_rule_file(REPO_ROOT / path)]
    assert len(files) < len(rule_files)
    return copy_rule_tree(files, REPO_ROOT, tmp_path_factory.mktemp("detection_rules"))


def test_every_sigma_rule_file_is_checked_and_nothing_else(rule_files: list[Path]) -> None:
    """The rule folders' YAML files split by content: rules in, the workflow example out."""
    every_yaml = {
        path.relative_to(REPO_ROOT) for folder in RULE_FOLDERS for path in (REPO_ROOT / folder).rglob("*.yml")
    }
    workflow = Path("examples/github-actions/sentinel-deploy.yml")
    assert workflow in every_yaml and workflow not in rule_files
    assert set(rule_files) == every_yaml - {workflow}
    assert {path.parts[0] for path in rule_files} == set(RULE_FOLDERS)


def test_attack_bundle_carries_the_layer_tactics() -> None:
    layer = json.loads((VENDORED / "sigma_attack_nav_coverage.json").read_text())
    bundle = attack_data()
    techniques = {
        obj["name"]: [phase["phase_name"] for phase in obj["kill_chain_phases"]]
        for obj in bundle["objects"]
        if obj["type"] == "attack-pattern"
    }
    assert layer["versions"]["attack"] == "19.1"
    assert sorted(techniques["T1098.003"]) == ["persistence", "privilege-escalation"]
    assert techniques["T1685.002"] == ["defense-impairment"]
    assert "T1562.008" not in techniques  # moved to T1685.002 in ATT&CK 19
    assert techniques["T1651"] == ["execution"]  # from the supplement


@pytest.mark.parametrize("script", ["test_rules.py", "test_logsource.py"])
def test_sigmahq_rule_tests(script: str, detection_rule_tree: Path, tmp_path: Path) -> None:
    require_modules("colorama")
    result = run([str(CHECKS_PYTHON), str(VENDORED / script)], cwd=detection_rule_tree, home=tmp_path)
    assert result.returncode == 0, outcome(result)
    assert "OK" in result.stderr


def test_sigmahq_yamllint(rule_files: list[Path], rule_tree: Path, tmp_path: Path) -> None:
    require_modules("yamllint")
    command = [str(CHECKS_PYTHON), "-m", "yamllint", "--strict", "-c", str(VENDORED / "yamllint.yml")]
    result = run([*command, *map(str, rule_files)], cwd=rule_tree, home=tmp_path)
    assert result.returncode == 0, outcome(result)


@pytest.mark.slow
def test_sigma_check_with_sigmahq_validators(rule_tree: Path, tmp_path: Path) -> None:
    require_modules("sigma.cli", "sigma.validators.sigmahq")
    result = sigma_check(rule_tree, tmp_path, *RULE_FOLDERS)
    assert result.returncode == 0, outcome(result)
    assert "Found 0 errors, 0 condition errors and 0 issues." in result.stdout, outcome(result)


BAD_RULE = """\
title: Diagnostic Settings Deleted With An Old Technique Tag
id: 0b4b7bd5-0a63-4d59-9d9c-5d6a0f6f4d0e
status: test
description: Detects the deletion of a diagnostic setting, tagged with a technique ATT&CK 19 moved.
author: pySigma-pipeline-azure project
date: 2026-12-06
tags:
    - attack.t1562.008
    - attack.t1098.003
    - attack.persistence
logsource:
    product: azure
    service: activitylogs
detection:
    selection:
        operationName: MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/DELETE
    condition: selection
falsepositives:
    - Unknown
level: medium
"""


@pytest.mark.slow
def test_sigma_check_reports_what_sigmahq_refuses(tmp_path: Path) -> None:
    """The same run fails a rule with a tag ATT&CK 19 renamed, a technique without one of its
    tactics, and a file name outside SigmaHQ's convention."""
    require_modules("sigma.cli", "sigma.validators.sigmahq")
    tree = tmp_path / "tree"
    (tree / "rules").mkdir(parents=True)
    (tree / "rules" / "Diagnostic-Settings.yml").write_text(BAD_RULE)
    result = sigma_check(tree, tmp_path, "rules")
    assert result.returncode != 0
    for expected in ("attack.t1562.008", "attack.privilege-escalation", "Diagnostic-Settings.yml"):
        assert expected in result.stdout, outcome(result)
