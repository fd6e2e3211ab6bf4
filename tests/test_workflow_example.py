"""The GitHub Actions example (examples/github-actions/sentinel-deploy.yml): what it must do, and
real linters on it.

Linters, each run when installed and skipped otherwise: zizmor (GitHub Actions static analysis,
in the [test] extra), check-jsonschema with its vendored GitHub workflow schema (in [test]), and
actionlint (when on PATH, e.g. a Go install; it runs shellcheck on the scripts when that is there).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "examples" / "github-actions" / "sentinel-deploy.yml"
CONSTRAINTS = REPO / "examples" / "github-actions" / "constraints.txt"
BIN = Path(sys.executable).parent


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def scripts(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [step["uses"] for job in workflow()["jobs"] for step in steps(job) if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use) for use in uses), uses
    lines = [line for line in WORKFLOW.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert all(re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line) for line in lines), lines


def test_python_packages_are_pinned_and_no_node() -> None:
    for job in ("build", "deploy"):
        install = next(step["run"] for step in steps(job) if "pip install" in step.get("run", ""))
        assert "--constraint examples/github-actions/constraints.txt" in install and "'.[validate" in install
    pins = [line for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[\w.]+", pin) for pin in pins), pins
    assert {"pySigma==1.5.1", "pySigma-backend-kusto==1.0.1", "mini-racer==0.14.1"} <= set(pins)
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "npm" not in text and "setup-node" not in text


def test_oidc_login_and_least_privilege() -> None:
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    deploy = flow["jobs"]["deploy"]
    assert deploy["permissions"]["id-token"] == "write" and deploy["environment"] == "sentinel"
    assert "id-token" not in flow["jobs"]["build"]["permissions"]
    login = next(step for step in steps("deploy") if step.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # no stored credentials
    assert "secrets." not in WORKFLOW.read_text(encoding="utf-8")


def test_tests_run_before_deploying_and_removed_rules_are_deleted() -> None:
    build = scripts("build")
    order = [
        build.index("sigma-azure-aks validate rules/"),
        build.index("sigma-azure-aks replay rules/ --events events/azureactivity.jsonl"),
        build.index("python -m pytest -q test_my_rules.py"),
        build.index("sigma-azure-aks export rules/ --out out"),
        build.index("sigma-azure-aks plan"),
    ]
    assert order == sorted(order)
    assert workflow()["jobs"]["deploy"]["needs"] == "build"
    deploy = scripts("deploy")
    order = [
        deploy.index("--workspace workspace-rules"),
        deploy.index("--format json > plan.json"),
        deploy.index("az deployment group create"),
        deploy.index("jq -r '.delete[]' plan.json"),
        deploy.index("az rest --method delete"),
    ]
    assert order == sorted(order)
    assert "--previous previous/sentinel-manifest.json" in deploy
    names = [step.get("with", {}).get("name") for step in steps("deploy")]
    assert names[-1] == "sentinel-manifest"  # kept for the next run's plan, after the deletions


def test_example_layout_matches_the_workflow() -> None:
    example = REPO / "examples" / "detection-as-code"
    for path in ("rules", "events/azureactivity.jsonl", "test_my_rules.py"):
        assert (example / path).exists(), path


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).is_file() else None)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_zizmor_finds_nothing() -> None:
    done = _run([_tool("zizmor"), "--offline", "--persona", "pedantic", str(WORKFLOW)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_github_workflow_schema() -> None:
    done = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    done = _run([_tool("actionlint"), str(WORKFLOW)])
    assert done.returncode == 0, done.stdout + done.stderr
