"""Every command quoted in README.md and docs/ runs here as written, or is marked with why it cannot.

A command is a line of a code block, or an inline code span, that starts with one of PROGRAMS.
`HOW` classifies each: an exit code means this test runs it (in a scratch folder holding the
files the docs name; `[...]` optional parts included), a string says why it does not run here.
A command added to the docs without a line in `HOW` fails the first test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, shared_dir
from replay_support import require_engine

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROGRAMS = ("sigma-azure-aks", "sigma", "pip", "python", "bash", "npm", "az")
BIN = Path(sys.executable).parent

NEEDS_AZURE = "needs an Azure subscription and workspace"
FRAGMENT = "a command named in prose, not a command line"
INSTALL = "an install line: the same pins as scripts/test.sh (test_install_lines_match_the_test_script)"
SCRIPT = "what CI runs (scripts/test.sh runs the suite; scripts/convert.sh is its quick start)"
HOW: dict[str, int | str] = {
    # README
    "bash scripts/convert.sh": SCRIPT,
    "bash scripts/test.sh": SCRIPT,
    'bash scripts/test.sh -m "not slow"': "the suite without its slow tests (scripts/test.sh passes its arguments to pytest)",
    "python -m venv .venv && . .venv/bin/activate": "creates a virtual environment (scripts/test.sh does)",
    'pip install . "sigma-cli==3.1.*"': INSTALL,
    "pip wheel --no-deps -w dist .": "builds the wheel (test_wheel_name_in_readme checks its file name)",
    'pip install dist/pysigma_pipeline_azure-0.1.0-py3-none-any.whl "sigma-cli==3.1.*"': INSTALL,
    'pip install "pySigma==2.0.1" "PyYAML>=6" certifi': INSTALL,
    'pip install --no-deps "pySigma-backend-kusto==1.0.1"': INSTALL,
    "pip install --no-deps .": INSTALL,
    "sigma convert -t sentinel rules/azure_activity/azure_aks_cluster_admin_credential_listed.yml": 0,
    "sigma convert -t kusto -p azure_activity": FRAGMENT,
    "sigma convert -t sentinel -f arm rules/": 0,
    "sigma-azure-aks export rules/ --out out --format kql,yaml,arm,json": 0,
    "sigma convert": FRAGMENT,
    "sigma-azure-aks convert rules/": 0,
    "sigma-azure-aks convert tests/bad_rules": 1,
    "python benchmarks/compile_benchmark.py": "a benchmark (minutes); run by hand",
    "python benchmarks/replay_benchmark.py": "a benchmark on a 7 GB export; run by hand",
    "python benchmarks/replay_benchmark.py --scan-speed": "a benchmark on a 530 MB file (minutes); run by hand",
    # docs/aks.md
    "sigma convert -t sentinel azure_kubernetes_cronjob.yml": 0,
    "sigma-azure-aks convert --verbose": FRAGMENT,
    "sigma convert -t sentinel -p aks_dataplane azure_kubernetes_cronjob.yml": 0,
    # docs/commands.md
    "sigma-azure-aks convert rules/ [-p aks_dataplane]": 0,
    "sigma-azure-aks export rules/ --out out --format kql,yaml,arm,json [-p aks_dataplane] [-O query_frequency=30m]": 0,
    "sigma-azure-aks validate rules/ queries/extra.kql [--format json] [-p aks_dataplane]": 0,
    "sigma-azure-aks replay rules/ --events export.csv --events records.json [--format json] [--memory-limit 1GB]": 0,
    "sigma convert -t sentinel": FRAGMENT,
    "pip install '.[validate]'": INSTALL,
    "pip install 'pySigma-pipeline-azure[validate]'": "needs the package on PyPI (said so where quoted)",
    "pip install '.[replay]'": INSTALL,
    "pip install 'pySigma-pipeline-azure[replay]'": "needs the package on PyPI (said so where quoted)",
    # docs/formats.md
    "sigma convert -t sentinel -f arm azure_kubernetes_cronjob.yml > cronjob.json": 0,
    "sigma-azure-aks export rules/ --out out --format arm,yaml,kql,json": 0,
    "sigma-azure-aks export rules/azure_activity --out out --format defender": 0,
    # (rules/ as a whole exits 1: its correlation rules cannot be custom detections, docs/formats.md)
    "sigma-azure-aks export RULES... --out DIR [--format arm,yaml,kql,json] [-p PIPELINE]... [-O KEY=VALUE]...": (
        "a synopsis; its concrete forms are above"
    ),
    "sigma convert -t sentinel -f yaml": FRAGMENT,
    "sigma convert -t sentinel -f arm": FRAGMENT,
    "sigma convert -t sentinel -f json": FRAGMENT,
    "sigma convert -t sentinel -f defender": FRAGMENT,
    "sigma convert -t sentinel -p aks_dataplane -f yaml": FRAGMENT,
    "python docs/generate.py": "rewrites the generated docs; test_docs runs it with --check",
    "sigma-azure-aks export": FRAGMENT,
    # docs/correlation.md and its README section
    "sigma convert -t sentinel -f yaml rules/correlations/": 0,
    "sigma-azure-aks convert|export|validate|replay": FRAGMENT,
    "sigma-azure-aks replay": FRAGMENT,
    # docs/lifecycle.md and the plan section of docs/commands.md
    "sigma-azure-aks export rules/ --out out && sigma-azure-aks plan out --previous out --detailed-exitcode": 0,
    "sigma-azure-aks plan NEW [--previous OLD] [--workspace FILE]... [--format text|json] [--detailed-exitcode] [--verbose]": (
        "a synopsis; its concrete forms run in tests/test_plan.py"
    ),
    "sigma-azure-aks plan out --previous last-deployment/ --workspace workspace-rules.json [--format json] [--detailed-exitcode]": (
        "needs a last deployment's manifest and a workspace export; tests/test_plan.py runs plan on both"
    ),
    "sigma-azure-aks plan": FRAGMENT,
    "az sentinel alert-rule list": FRAGMENT,
    "az sentinel alert-rule show": FRAGMENT,
    "pip install '.[validate,replay]'": "what the example workflow runs (tests/test_workflow_example.py checks it)",
    "az deployment group create": NEEDS_AZURE,
    "az rest": NEEDS_AZURE,
}
NEEDS_AZURE_PREFIXES = ("az deployment group create ", "az rest ")


def _commands_in(text: str) -> list[str]:
    found: list[str] = []
    starts = re.compile(rf"^(?:\$ )?((?:{'|'.join(map(re.escape, PROGRAMS))}) .*|sigma convert)$")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            match = starts.match(line.strip())
            if match:
                found.append(re.sub(r"\s+#.*$", "", match.group(1)).strip())
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    for span in re.findall(r"`([^`\n]+)`", prose):
        match = starts.match(span.strip())
        if match:
            found.append(match.group(1).strip())
    return found


def quoted_commands() -> dict[str, str]:
    """Command -> the doc that quotes it first."""
    commands: dict[str, str] = {}
    for doc in DOCS:
        for command in _commands_in(doc.read_text(encoding="utf-8")):
            commands.setdefault(command, doc.name)
    return commands


def test_every_quoted_command_is_run_or_marked() -> None:
    unknown = {
        command: doc
        for command, doc in quoted_commands().items()
        if command not in HOW and not command.startswith(NEEDS_AZURE_PREFIXES)
    }
    assert not unknown, f"classify these in HOW: {unknown}"


def test_no_stale_line_in_how() -> None:
    assert set(HOW) <= set(quoted_commands())


def test_no_advice_that_does_not_work() -> None:
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert "pip install pySigma-pipeline-azure sigma-cli" not in text, doc
        assert not re.search(r"sigma convert[^`\n]*--output-dir", text), doc


def test_install_lines_match_the_test_script() -> None:
    script = (REPO_ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    for pin in (
        '"sigma-cli==3.1.*"',
        '"pySigma==2.0.1"',
        '"PyYAML>=6"',
        '--no-deps "pySigma-backend-kusto==1.0.1"',
    ):
        assert pin in script
        assert any(pin in command for command in quoted_commands()), pin


def test_wheel_name_in_readme() -> None:
    import tomllib

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wheel = f"{project['name'].lower().replace('-', '_')}-{project['version']}-py3-none-any.whl"
    assert f"dist/{wheel}" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _workdir(tmp_path: Path, command: str) -> Path:
    """A scratch folder with the files the docs' commands name."""
    (tmp_path / "rules").symlink_to(REPO_ROOT / "rules")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "bad_rules").symlink_to(REPO_ROOT / "tests" / "bad_rules")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "extra.kql").write_text(
        'AzureActivity\n| where Caller =~ "x"\n', encoding="utf-8"
    )
    shared = shared_dir()
    needed = {
        "azure_kubernetes_cronjob.yml": ("corpus", "sigmahq", "activitylogs", "azure_kubernetes_cronjob.yml"),
        "export.csv": ("samples", "azureactivity_training_lab.csv"),
        "records.json": ("samples", "aks_kube_audit_records.json"),
    }
    for name, parts in needed.items():
        if name in command.split():
            source = shared.joinpath(*parts) if shared else None
            if source is None or not source.is_file():
                pytest.skip(f"{name}: the shared corpus/samples are not here")
            shutil.copy(source, tmp_path / name)
    return tmp_path


RUN = sorted(command for command, how in HOW.items() if isinstance(how, int))
# A command over a whole rule folder converts every rule in a new process: seconds each.
WHOLE_FOLDER = re.compile(r"\s(?:rules|tests/bad_rules)/?(?:\s|$)")


@pytest.mark.parametrize(
    "command", [pytest.param(c, marks=pytest.mark.slow) if WHOLE_FOLDER.search(c) else c for c in RUN]
)
def test_quoted_command_runs_as_written(command: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    program = command.split()[0]
    if program == "sigma" and not (BIN / "sigma").is_file():
        pytest.skip("sigma-cli not installed beside python (the pySigma 2 environment has none)")
    if " validate " in command:
        request.getfixturevalue("kql")  # skips when Microsoft's parser is not installed
    if " replay " in command:
        require_engine()
    cwd = _workdir(tmp_path, command)
    line = re.sub(r"\[([^\]]*)\]", r"\1", command)  # optional parts included
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == HOW[command], f"{line}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr
