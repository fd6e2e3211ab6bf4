"""Golden outputs: every rule of rules/ and of the SigmaHQ corpora, through every pipeline
combination and output format, written down so a change that should not alter any output can prove
it did not (tests/test_golden_outputs.py compares; `python tests/golden_outputs.py --update`
rewrites the files after a change that alters outputs on purpose, so the diff shows what changed).

Queries are kept whole; analytics-rule documents (yaml, arm, json) as a SHA-256 of their text; a
rule that is refused keeps its message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

# (name of the golden file, rules folder relative to its root, where the root is, pipeline runs)
# A pipeline run is (target, pipeline names).
RUNS: dict[str, tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "rules": (
        "repo",
        "rules",
        (("sentinel", ()), ("sentinel", ("aks_dataplane",))),
    ),
    "sigmahq_activitylogs": (
        "shared",
        "corpus/sigmahq/activitylogs",
        (("sentinel", ()), ("sentinel", ("aks_dataplane",)), ("kusto", ("azure_activity",))),
    ),
    "sigmahq_kubernetes_audit": (
        "shared",
        "corpus/sigmahq/kubernetes_audit",
        (
            ("sentinel", ()),
            ("sentinel", ("aks_audit_admin",)),
            ("sentinel", ("aks_audit_legacy",)),
            ("kusto", ("aks_audit",)),
        ),
    ),
    "sigmahq_auditlogs": (
        "shared",
        "corpus/sigmahq/auditlogs",
        (("sentinel", ()), ("kusto", ("azure_auditlogs",))),
    ),
    "sigmahq_signinlogs": (
        "shared",
        "corpus/sigmahq/signinlogs",
        (("sentinel", ()), ("kusto", ("azure_signinlogs",))),
    ),
    "sigmahq_riskdetection": (
        "shared",
        "corpus/sigmahq/riskdetection",
        (("sentinel", ()), ("kusto", ("azure_riskdetection",))),
    ),
    "sigmahq_m365_audit": (
        "shared",
        "corpus/sigmahq/m365_audit",
        (("sentinel", ()), ("kusto", ("m365_audit",))),
    ),
    "sigmahq_aws_cloudtrail": (
        "shared",
        "corpus/sigmahq/aws_cloudtrail",
        (("sentinel", ()), ("kusto", ("aws_cloudtrail",))),
    ),
    "sigmahq_gcp_audit": (
        "shared",
        "corpus/sigmahq/gcp_audit",
        (("sentinel", ()), ("kusto", ("gcp_audit",))),
    ),
    **{
        f"sigmahq_{folder}": ("shared", f"corpus/sigmahq/{folder}", (("sentinel", ()),))
        for folder in ("pim", "m365_threat_management", "m365_threat_detection", "m365_exchange")
    },
    # SaaS sources (the pipeline of each is named as its corpus folder)
    **{
        f"sigmahq_{folder}": (
            "shared",
            f"corpus/sigmahq/{folder}",
            (("sentinel", ()), ("kusto", (folder,)), *((("sentinel", (f"{folder}_legacy",)),) if legacy else ())),
        )
        for folder, legacy in (("okta", True), ("github", True), ("onelogin", False), ("cisco_duo", False))
    },
    "sigmahq_gcp_workspace": (
        "shared",
        "corpus/sigmahq/gcp_workspace",
        (("sentinel", ()), ("kusto", ("gcp_workspace",))),
    ),
}
FORMATS = {"sentinel": ("default", "yaml", "arm", "json", "defender"), "kusto": ("default",)}


def _backend(target: str, pipelines: tuple[str, ...]):
    from sigma_azure_aks.backend import SentinelBackend
    from sigma_azure_aks.batch import resolve_pipelines

    pipeline = resolve_pipelines(pipelines)
    if target == "sentinel":
        return SentinelBackend(processing_pipeline=pipeline)
    from sigma.backends.kusto import KustoBackend

    return KustoBackend(processing_pipeline=pipeline)


def _one(backend, text: str, output_format: str) -> str:
    from sigma.collection import SigmaCollection

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = backend.convert(SigmaCollection.from_yaml(text), output_format)
        except Exception as error:  # a refusal is part of the output
            return f"error: {type(error).__name__}: {' '.join(str(error).split())}"
    if isinstance(result, list):
        result = "\n".join(str(item) for item in result)
    text_out = str(result)
    if output_format == "default":
        return text_out
    return "sha256:" + hashlib.sha256(text_out.encode("utf-8")).hexdigest()


def _with_referenced_rules(files: list[Path]) -> dict[Path, str]:
    """Each file's text, a correlation's preceded by the rules it reads from the other files (a
    correlation file holds the correlation alone, as SigmaHQ writes them)."""
    import yaml

    texts = {path: path.read_text(encoding="utf-8") for path in files}
    documents = {path: [d for d in yaml.safe_load_all(text) if isinstance(d, dict)] for path, text in texts.items()}
    by_reference = {
        str(document[key]): path
        for path, docs in documents.items()
        for document in docs
        for key in ("name", "id")
        if key in document
    }

    def referenced(path: Path, seen: tuple[Path, ...]) -> list[Path]:
        found: list[Path] = []
        for document in documents[path]:
            for reference in (document.get("correlation") or {}).get("rules", []):
                other = by_reference.get(str(reference))
                if other is not None and other not in seen and other not in found:
                    found += [p for p in referenced(other, (*seen, path)) if p not in found] + [other]
        return found

    return {path: "---\n".join([*(texts[p] for p in referenced(path, (path,))), texts[path]]) for path in files}


def outputs(root: Path, folder: str, runs) -> dict[str, dict[str, str]]:
    files = sorted((root / folder).rglob("*.yml"))
    texts = _with_referenced_rules(files)
    result: dict[str, dict[str, str]] = {}
    for target, pipelines in runs:
        backend = _backend(target, pipelines)
        label = f"{target}" + "".join(f" -p {name}" for name in pipelines)
        for path in files:
            text = texts[path]
            key = f"{label} | {path.relative_to(root / folder).as_posix()}"
            result[key] = {fmt: _one(backend, text, fmt) for fmt in FORMATS[target]}
    return result


def roots(shared: Path | None) -> dict[str, Path | None]:
    return {"repo": REPO_ROOT, "shared": shared}


def golden_sets(shared: Path | None) -> Iterator[tuple[str, Path | None, str, tuple]]:
    for name, (where, folder, runs) in RUNS.items():
        yield name, roots(shared)[where], folder, runs


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def dump(data: dict[str, dict[str, str]]) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the golden files")
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared")
    args = parser.parse_args(argv)
    shared = args.shared if args.shared.is_dir() else None
    differences = 0
    for name, root, folder, runs in golden_sets(shared):
        if root is None:
            print(f"{name}: skipped (shared corpus not found)")
            continue
        text = dump(outputs(root, folder, runs))
        path = golden_path(name)
        if args.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"{name}: written")
        elif not path.is_file() or path.read_text(encoding="utf-8") != text:
            differences += 1
            print(f"{name}: differs from {path.name}")
        else:
            print(f"{name}: identical")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
