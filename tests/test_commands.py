"""The `sigma-azure-aks` command as a whole: one entry point, one shape per subcommand, quick help."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sigma_azure_aks.commands import COMMANDS, RULE_COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "sigma_azure_aks"


def _imports(path: Path) -> list[str]:
    """Every module a file imports (absolute, or relative as `.name` with its dots)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


def test_console_script_is_the_commands_package() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"sigma-azure-aks": "sigma_azure_aks.commands:main"}


def test_every_subcommand_has_one_shape() -> None:
    assert list(COMMANDS) == ["convert", "export", "validate", "replay", "plan"]
    assert set(RULE_COMMANDS) < set(COMMANDS)
    for module in COMMANDS.values():
        assert isinstance(module.HELP, str) and callable(module.add_arguments) and callable(module.run)


def test_every_subcommand_takes_pipeline_and_options() -> None:
    parser = build_parser()
    for name in RULE_COMMANDS:
        extra = ["--out", "x"] if name == "export" else ["--events", "e.json"] if name == "replay" else []
        args = parser.parse_args([name, "r.yml", *extra, "-p", "a", "-p", "b", "-O", "k=v"])
        assert (args.pipeline, args.option) == (["a", "b"], ["k=v"]), name


def test_no_importlib_and_nothing_outside_imports_the_commands() -> None:
    for path in (PACKAGE / "commands").glob("*.py"):
        assert "importlib" not in path.read_text(encoding="utf-8"), path
    for path in PACKAGE.rglob("*.py"):
        if "commands" in path.relative_to(PACKAGE).parts:
            continue
        assert not any("commands" in name.split(".") for name in _imports(path)), path
    assert not (PACKAGE / "cli.py").exists() and not (PACKAGE / "convert.py").exists()


def test_library_modules_have_no_argparse() -> None:
    for name in ("export.py", "validate.py", "batch.py"):
        assert "argparse" not in _imports(PACKAGE / name), name


def test_help_is_quick_to_load_no_pysigma() -> None:
    code = "import sys, sigma_azure_aks.commands; print('sigma' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_module_entry_point_and_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sigma_azure_aks.commands", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    for name in COMMANDS:
        assert name in done.stdout
    assert "Exit codes: 0 " in done.stdout


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_discovery_leaves_import_no_pipeline_machinery() -> None:
    """sigma-cli imports every plugin's discovery leaves on every command: ours list the target and
    the pipelines from the sources' facts, and import the transformations only when a pipeline is
    built (the compile benchmark measures what the import costs)."""
    heavy = (
        "sigma_azure_aks.pipelines.items",
        "sigma_azure_aks.pipelines.transformations",
        "sigma_azure_aks.pipelines.aks_dataplane",
        "sigma_azure_aks.sources.k8s_catalogue",
        "sigma_azure_aks.replay",
        "sigma_azure_aks.kql_parser",
    )
    code = (
        "import sys, sigma.backends.azure_aks as b, sigma.pipelines.azure_aks as p; "
        "assert b.backends and p.pipelines; "
        f"print([m for m in {heavy!r} if m in sys.modules]); "
        "b.SentinelBackend(); print('sigma_azure_aks.pipelines.items' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout + done.stderr
