"""Export: one file per rule and format, plus Import-ready ARM bundles (`sigma-azure-aks export`).

Layout under --out (names are stable, so re-exports overwrite the same files):

    kql/<slug>_<id8>.kql          the query, to paste into Sentinel
    yaml/<slug>_<id8>.yaml        Azure-Sentinel analytics-rule template
    arm/<slug>_<id8>.json         ARM template with one rule
    json/<slug>_<id8>.json        REST API rule body
    defender/<slug>_<id8>.json    Defender XDR custom detection rule (Graph v1.0 detectionRule body)
    bundles/azure-sentinel-rules-001.json   ARM templates of at most 50 rules (Analytics > Import)
    sentinel-manifest.json        the alert rules this export manages (with `arm` or `json`)

`<slug>` is the title in lower case with runs of other characters turned into `-` (at most 60
characters); `<id8>` the first 8 characters of the rule id. A rule that fails in any format is
written in none and reported; the others are still exported. Two rules with one Sigma id (the
alert rule's name) both fail, each naming the other's file. Other files in --out are left alone,
except bundle files of an earlier run beyond the current count, which would deploy stale rules, and
an earlier manifest when this export has no deployable format (it would describe other rules).
The manifest (`sigma-azure-aks plan` reads it): :mod:`sigma_azure_aks.lifecycle.manifest`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analytics import EXTENSIONS, output_format
from .analytics import FORMATS as OUTPUT_FORMATS

FORMATS = tuple(f.export_name for f in OUTPUT_FORMATS)
DEFAULT_FORMATS = "arm,yaml,kql"
BUNDLE_DIR = "bundles"
BUNDLE_PREFIX = "azure-sentinel-rules-"
SLUG_MAX = 60


def parse_formats(text: str) -> list[str]:
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    return [fmt for fmt in FORMATS if fmt in chosen]  # fixed order, duplicates gone


def slug(title: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return text[:SLUG_MAX].rstrip("-") or "rule"


def base_name(rule: Any) -> str:
    return f"{slug(str(rule.title or ''))}_{str(rule.id)[:8]}"


@dataclass
class Exported:
    name: str
    documents: dict[str, str]  # format -> text
    sigma_id: str = ""
    title: str = ""
    source: str = ""  # the rule file, as found under the paths given
    table: str = ""


def render_all(converted: Any, formats: list[str], options: dict[str, str]) -> Exported:
    """Every chosen format of one converted rule, in memory; ValueError if any fails."""
    from .analytics import render_rule
    from .analytics.correlation import render_correlation_rule
    from .correlation import plan_of

    rule = converted.rule
    if rule.id is None:
        raise ValueError("the rule has no `id`; exported files and Sentinel rules are named by it")
    documents = {}
    for fmt in formats:
        chosen = output_format(fmt)
        if chosen is None or not chosen.analytics:
            documents[fmt] = str(converted.query).rstrip("\n") + "\n"
        elif plan_of(rule) is not None:
            documents[fmt] = render_correlation_rule(plan_of(rule), fmt, options)
        else:
            documents[fmt] = render_rule(
                rule, converted.query, converted.table, chosen.name, options, union=converted.union
            )
    return Exported(
        base_name(rule),
        documents,
        sigma_id=str(rule.id),
        title=str(rule.title or ""),
        source=Path(converted.path).as_posix(),
        table=str(converted.table or ""),
    )


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_bundles(out: Path, arm_documents: list[str]) -> list[Path]:
    """ARM templates of at most 50 rules each; earlier bundles beyond the count are removed."""
    from .analytics.render import arm_bundle
    from .analytics.sentinel_facts import ARM_IMPORT_MAX_RULES

    folder = out / BUNDLE_DIR
    written = []
    for start in range(0, len(arm_documents), ARM_IMPORT_MAX_RULES):
        number = start // ARM_IMPORT_MAX_RULES + 1
        path = folder / f"{BUNDLE_PREFIX}{number:03d}.json"
        write_text(path, arm_bundle(arm_documents[start : start + ARM_IMPORT_MAX_RULES]))
        written.append(path)
    if folder.is_dir():
        for stale in folder.glob(f"{BUNDLE_PREFIX}[0-9][0-9][0-9].json"):
            if stale not in written:
                stale.unlink()
    return written


@dataclass
class ExportResult:
    """The rules exported (in memory, in rule-file order) and a line per rule that failed."""

    formats: list[str]
    exported: list[Exported] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed: list[tuple[str, str | None, str]] = field(default_factory=list)  # (file, Sigma id, line)
    details: dict[str, str] = field(default_factory=dict)  # failure line -> its details (`--verbose`)

    def fail(self, path: Path, rule_id: Any, line: str, details: str = "") -> None:
        self.failures.append(line)
        if details:
            self.details[line] = details
        self.failed.append((Path(path).as_posix(), str(rule_id) if rule_id else None, line))


def export_files(
    files: Iterable[Path],
    formats: list[str],
    pipeline: Any = None,
    options: dict[str, str] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> ExportResult:
    """Convert and render every rule of `files` (see :func:`..batch.rule_files`) in every format.

    A rule that fails in any format is in none and its failure is reported; so is a second rule
    whose file names would overwrite the first's, and every rule whose Sigma id another rule has
    too (Sentinel names the alert rule by it: one would overwrite the other)."""
    from .batch import RuleFailure, iter_convert
    from .query_guard import QueryGuard

    options = options or {}
    result = ExportResult(formats)
    unique: dict[str, Path] = {}  # a file found under two of the paths given is read once
    for path in files:
        unique.setdefault(os.path.abspath(path), Path(path))
    files = list(unique.values())
    seen: dict[str, Path] = {}
    owners: dict[str, list[Path]] = {}  # Sigma id -> the file of each rule that has it
    guard = QueryGuard()  # no query Microsoft's parser rejects is written
    try:
        for item in iter_convert(files, pipeline, options, on_file=on_file, guard=guard):
            rule_id = item.rule_id if isinstance(item, RuleFailure) else item.rule.id
            if rule_id:
                owners.setdefault(str(rule_id), []).append(Path(item.path))
            if isinstance(item, RuleFailure):
                result.fail(item.path, item.rule_id, item.line(), item.details)
                continue
            try:
                exported = render_all(item, formats, options)
            except ValueError as error:
                line = f"{item.path}: rule '{item.rule.title}' ({item.rule.id}): {error}"
                result.fail(item.path, item.rule.id, line)
                continue
            if exported.name in seen:
                line = f"{item.path}: rule id {item.rule.id} is also used in {seen[exported.name]}"
                result.fail(item.path, item.rule.id, line)
                continue
            seen[exported.name] = item.path
            result.exported.append(exported)
    finally:
        guard.close()
    _refuse_shared_ids(result, owners)
    return result


def shared_id_line(source: str, title: str, rule_id: str, files: list[Path]) -> str:
    """The failure of a rule whose Sigma id another rule has too, naming every file that has it."""
    here = Path(source)
    others = [f.as_posix() for f in files if f != here] or ["this file"]
    where = ", ".join(dict.fromkeys(others))
    return (
        f"{source}: rule '{title}' ({rule_id}): another rule has the same id ({where}); Sentinel names the "
        "alert rule by it, so one would overwrite the other: give each rule an id of its own"
    )


def _refuse_shared_ids(result: ExportResult, owners: dict[str, list[Path]]) -> None:
    """Every exported rule whose id more than one rule has fails, naming the other files."""
    shared = {rule_id: files for rule_id, files in owners.items() if len(files) > 1}
    kept = []
    for exported in result.exported:
        files = shared.get(exported.sigma_id)
        if files is None:
            kept.append(exported)
            continue
        line = shared_id_line(exported.source, exported.title, exported.sigma_id, files)
        result.fail(Path(exported.source), exported.sigma_id, line)
    result.exported = kept


def write_export(
    out: Path, result: ExportResult, pipelines: Iterable[str] = (), rule_paths: Iterable[str | Path] = ()
) -> None:
    """Every exported document under `out`, the bundles when ARM is among the formats, and the
    manifest when a deployable format is (`pipelines`: the -p names, recorded in it; `rule_paths`:
    the paths the rules were found under, which the manifest names sources relative to); OSError."""
    from .lifecycle.manifest import MANIFEST_NAME, manifest_document, manifest_text

    for exported in result.exported:
        for fmt, text in exported.documents.items():
            write_text(out / fmt / f"{exported.name}.{EXTENSIONS[fmt]}", text)
    if "arm" in result.formats:
        write_bundles(out, [exported.documents["arm"] for exported in result.exported])
    manifest = manifest_document(result, list(pipelines), rule_paths, out)
    if manifest is not None:
        write_text(out / MANIFEST_NAME, manifest_text(manifest))
    elif (out / MANIFEST_NAME).is_file():
        (out / MANIFEST_NAME).unlink()
