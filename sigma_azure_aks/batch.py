"""Convert many rules at once: every failure reported with its file, every other rule converted.

The one funnel for rule input (:func:`load_inputs`): paths (files and folders), Sigma YAML text, and
pySigma rule objects (SigmaRule, SigmaCorrelationRule, SigmaCollection), alone or in a list. Every
command (`convert`, `export`, `validate`, `replay`) and the Python API (:func:`..replay.replay`)
read rules through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaPipelineNotFoundError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from .backend import SentinelBackend
from .correlation import correlation_tables
from .correlation_thresholds import remember_text
from .messages import plain_message, quiet_native_stderr
from .notices import details_of
from .pipelines.state import CLAIMED_BY, rule_label
from .query_guard import QueryGuard
from .sources import union_tables

RULE_SUFFIXES = (".yml", ".yaml")
# Where failures say rules given as YAML text, or as objects with no file, come from.
TEXT_ORIGIN = Path("<yaml>")
OBJECT_ORIGIN = Path("<rule>")


class PipelineError(ValueError):
    """An unknown pipeline name or a pipeline file that cannot be read."""


def resolve_pipelines(names: Iterable[str]) -> ProcessingPipeline | None:
    """Pipelines as sigma-cli's `-p` takes them: this package's names, any installed pySigma
    pipeline, or YAML files, ordered by priority. None when none is named (the sentinel target
    then applies its defaults)."""
    chosen = list(names)
    if not chosen:
        return None
    from sigma.plugins import InstalledSigmaPlugins

    from .pipelines import all_pipelines

    ours_by_id = all_pipelines()
    resolver = InstalledSigmaPlugins.autodiscover().get_pipeline_resolver()
    resolver.pipelines.update(ours_by_id)  # ours, even where the discovery leaves are not installed
    ours = ", ".join(sorted(ours_by_id))
    try:
        return resolver.resolve(chosen)
    except SigmaPipelineNotFoundError as error:
        name = next((n for n in chosen if n not in resolver.pipelines and not Path(n).is_file()), "?")
        raise PipelineError(
            f"unknown pipeline {name!r}: neither an installed pipeline nor a file (this package's: {ours})"
        ) from error
    except Exception as error:  # a pipeline file that is not a valid pipeline
        raise PipelineError(f"{' '.join(str(error).split())} (this package's pipelines: {ours})") from error


@dataclass
class ConvertedRule:
    """One rule converted: its source file, the pySigma rule, and its KQL query."""

    path: Path
    rule: SigmaRule
    query: str
    table: str
    union: tuple[str, ...] = ()  # the tables a union pipeline's query searches beside `table`


@dataclass
class RuleFailure:
    """A file or rule that could not be converted, with a one-line reason."""

    path: Path
    reason: str
    rule_id: str | None = None
    details: str = ""  # more than the line says (every accepted name), for `--verbose`

    def line(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class BatchResult:
    converted: list[ConvertedRule] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def rule_files(paths: Iterable[str | Path], suffixes: tuple[str, ...] = RULE_SUFFIXES) -> list[Path]:
    """The rule files named or found (recursively, sorted) under `paths`."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes))
        else:
            found.append(path)
    return found


def one_line(text: str) -> str:
    """Any text on one line, runs of whitespace as single spaces."""
    return " ".join(text.split())


def _one_line(error: BaseException) -> str:
    return one_line(str(error).strip() or error.__class__.__name__)


def _error_in_file(error: BaseException, path: Path) -> str:
    """One line for a pySigma error, without the " in <file>" it appends (the failure names the file)."""
    text = _one_line(error)
    for shown in {str(path), str(path.resolve())}:
        text = text.removesuffix(f" in {shown}")
    return text


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    """`line L, column C: problem` from a YAML error, without the echoed source text."""
    mark = error.problem_mark or error.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(error.problem or error.context or error).split())


@dataclass
class LoadedFile:
    """What one rule file holds: its rules, its Sigma filters, and why parts of it failed."""

    path: Path
    rules: list[SigmaRule | SigmaCorrelationRule] = field(default_factory=list)
    filters: list[Any] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)


def load_file(path: Path) -> LoadedFile:
    """Parse one file; a broken file is a failure, never an exception."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return LoadedFile(path, failures=[RuleFailure(path, f"cannot read file: {_one_line(error)}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return LoadedFile(path, failures=[RuleFailure(path, "not a UTF-8 text file")])
    return load_text(text, path)


def load_text(text: str, path: Path = TEXT_ORIGIN) -> LoadedFile:
    """Parse Sigma YAML text (the content of the file `path`); a broken text is a failure."""
    loaded = LoadedFile(path)
    if not text.strip():
        loaded.failures.append(RuleFailure(path, "empty file, no Sigma rule"))
        return loaded
    try:
        with quiet_native_stderr():  # RE2 logs an invalid pattern itself; the failure says it
            collection = SigmaCollection.from_yaml(
                text,
                collect_errors=True,
                source=SigmaRuleLocation(path),
                collect_filters=True,
                resolve_references=False,
            )
    except yaml.MarkedYAMLError as error:
        loaded.failures.append(RuleFailure(path, f"not valid YAML: {_yaml_problem(error)}"))
        return loaded
    except Exception as error:  # anything else pySigma raises while reading
        loaded.failures.append(RuleFailure(path, f"not a valid Sigma rule file: {_one_line(error)}"))
        return loaded
    loaded.filters = list(collection.filters)
    remember_text(collection.rules, text)  # pySigma 1.x drops a threshold's fraction: keep what is written
    rule_errors: set[str] = set()

    def said(error: BaseException) -> str:
        return plain_message(_error_in_file(error, path), text)

    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            loaded.rules.append(rule)
        elif not isinstance(rule, SigmaRule):
            loaded.failures.append(RuleFailure(path, f"not a Sigma rule: {type(rule).__name__}"))
        elif rule.errors:
            for rule_error in rule.errors:
                rule_errors.add(said(rule_error))
                loaded.failures.append(RuleFailure(path, said(rule_error), str(rule.id or "")))
        else:
            loaded.rules.append(rule)
    # The collection repeats its rules' errors; report each once, with the rule's id.
    loaded.failures.extend(
        RuleFailure(path, said(error)) for error in collection.errors if said(error) not in rule_errors
    )
    if not loaded.rules and not loaded.filters and not loaded.failures:
        loaded.failures.append(RuleFailure(path, "no Sigma rule in file"))
    return loaded


def load_objects(rules: Iterable[Any]) -> list[LoadedFile]:
    """pySigma objects as loaded files: one per rule (named by the rule's own file, else
    `<rule>`); the Sigma filters among them in one more."""
    loaded: list[LoadedFile] = []
    filters: list[Any] = []
    for rule in rules:
        if isinstance(rule, SigmaFilter):
            filters.append(rule)
            continue
        location = getattr(getattr(rule, "source", None), "path", None)
        item = LoadedFile(Path(str(location)) if location else OBJECT_ORIGIN)
        if not isinstance(rule, (SigmaRule, SigmaCorrelationRule)):
            item.failures.append(RuleFailure(item.path, f"not a Sigma rule: {type(rule).__name__}"))
        elif getattr(rule, "errors", None):
            item.failures += [RuleFailure(item.path, _one_line(e), str(rule.id or "")) for e in rule.errors]
        else:
            item.rules.append(rule)
        loaded.append(item)
    if filters:
        loaded.append(LoadedFile(OBJECT_ORIGIN, filters=filters))
    return loaded


def is_rule_text(text: str) -> bool:
    """True when a string given as rule input is Sigma YAML (or JSON) text rather than a path."""
    return "\n" in text or text.lstrip().startswith("{")


def load_inputs(rules: Any, suffixes: tuple[str, ...] = RULE_SUFFIXES) -> list[LoadedFile]:
    """The one funnel for rule input: a path (a file, or a folder read for `suffixes`), Sigma YAML
    text, a SigmaRule, a SigmaCorrelationRule or a SigmaCollection, or an iterable of these. Each
    becomes loaded files (a broken one a failure, never an exception); then, as sigma-cli does for
    the files of one run, every Sigma filter applies to every rule and every correlation rule
    points at the rules it names, wherever they came from."""
    single = (str, Path, SigmaRule, SigmaCorrelationRule, SigmaCollection, SigmaFilter)
    loaded: list[LoadedFile] = []
    for item in [rules] if isinstance(rules, single) else list(rules):
        if isinstance(item, str) and is_rule_text(item):
            loaded.append(load_text(item))
        elif isinstance(item, SigmaCollection):
            loaded += load_objects(item.rules)
            loaded += [LoadedFile(OBJECT_ORIGIN, failures=[RuleFailure(OBJECT_ORIGIN, _one_line(e))]) for e in item.errors]
        elif isinstance(item, (SigmaRule, SigmaCorrelationRule, SigmaFilter)):
            loaded += load_objects([item])
        else:
            loaded += [load_file(path) for path in rule_files([item], suffixes)]
    return _combined(loaded)


def load_rules(path: Path) -> tuple[list[SigmaRule], list[RuleFailure]]:
    """The rules of one file (its own Sigma filters applied) and its failures."""
    loaded = load_files([path])[0]
    return loaded.rules, loaded.failures


def load_files(files: Iterable[Path]) -> list[LoadedFile]:
    """Parse every file, then apply every Sigma filter found in any of them to every rule, as
    sigma-cli does for the files of one run (a filter names the rules it applies to)."""
    return _combined([load_file(path) for path in files])


def _combined(loaded: list[LoadedFile]) -> list[LoadedFile]:
    """Loaded files with every filter applied to every rule and every correlation resolved."""
    filters = [sigma_filter for item in loaded for sigma_filter in item.filters]
    if filters:
        for item in loaded:
            item.rules = [
                rule
                if isinstance(rule, SigmaCorrelationRule)
                else reduce(lambda r, f: f.apply_on_rule(r), filters, rule)
                for rule in item.rules
            ]
    resolve_correlations(loaded)
    return loaded


def resolve_correlations(loaded: list[LoadedFile]) -> None:
    """Point every correlation rule at the rules it names, in any of the files; a correlation
    naming a rule that is not there is a failure of its file."""
    everything = SigmaCollection([rule for item in loaded for rule in item.rules], resolve_references=False)
    for item in loaded:
        for rule in list(item.rules):
            if not isinstance(rule, SigmaCorrelationRule):
                continue
            try:
                rule.resolve_rule_references(everything)
            except SigmaError as error:
                item.rules.remove(rule)
                item.failures.append(
                    RuleFailure(
                        item.path, f"correlation {_error_in_file(error, item.path)}", str(rule.id or "")
                    )
                )


def convert_paths(
    paths: Iterable[str | Path],
    pipeline: ProcessingPipeline | None = None,
    backend_options: dict[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> BatchResult:
    """Convert every rule under `paths` to KQL with the sentinel target."""
    result = BatchResult()
    for converted_or_failure in iter_convert(rule_files(paths), pipeline, backend_options, on_file):
        if isinstance(converted_or_failure, RuleFailure):
            result.failures.append(converted_or_failure)
        else:
            result.converted.append(converted_or_failure)
    return result


def iter_convert(
    rules: Any,
    pipeline: ProcessingPipeline | None = None,
    backend_options: dict[str, Any] | None = None,
    on_file: Callable[[Path], None] | None = None,
    guard: QueryGuard | None = None,
) -> Iterator[ConvertedRule | RuleFailure]:
    """Every rule of `rules` (any input :func:`load_inputs` takes: the commands give files)
    converted, or its failure; with a `guard`, a query Microsoft's parser rejects is a failure too
    (the commands that write queries pass one)."""
    backend = SentinelBackend(pipeline, **(backend_options or {}))
    every = load_inputs(rules)
    # Rules a correlation reads are converted before it (pySigma's order), whatever their files.
    order = {id(rule): rank for rank, rule in enumerate(sorted(r for item in every for r in item.rules))}
    for loaded in every:
        yield from loaded.failures
    pending = sorted(
        ((loaded.path, rule) for loaded in every for rule in loaded.rules),
        key=lambda pair: order[id(pair[1])],
    )
    for path, rule in pending:
        outcome = convert_rule(backend, path, rule)
        if outcome is None:
            continue
        problem = guard.problem(outcome.query) if guard and isinstance(outcome, ConvertedRule) else None
        if problem:
            outcome = RuleFailure(path, f"{rule_label(rule)}: {problem}", str(rule.id or ""))
        yield outcome
    if on_file is not None:
        for loaded in every:
            on_file(loaded.path)


def convert_rule(backend: SentinelBackend, path: Path, rule: Any) -> ConvertedRule | RuleFailure | None:
    """One rule through the backend; any error becomes a failure naming the file. None for a
    rule only a correlation reads (it has no output of its own)."""
    try:
        if isinstance(rule, SigmaCorrelationRule):
            if getattr(backend, "last_processing_pipeline", None) is None:
                backend.init_processing_pipeline(backend.default_format)
            queries = backend.convert_correlation_rule(rule)
        else:
            queries = backend.convert_rule(rule)
    except SigmaError as error:
        return RuleFailure(path, _error_in_file(error, path), str(rule.id or ""), details_of(error))
    except NotImplementedError as error:  # pySigma's word for a construct a backend lacks
        reason = _one_line(error).split(" (while ", 1)[0]
        return RuleFailure(path, f"not supported by the sentinel target: {reason}", str(rule.id or ""))
    except Exception as error:  # a bug must not stop the other rules; report it as such
        return RuleFailure(path, f"internal error: {error.__class__.__name__}: {_one_line(error)}")
    if not queries and not rule._output:
        return None
    if len(queries) != 1:
        return RuleFailure(path, f"expected one query, got {len(queries)}", str(rule.id or ""))
    table = backend.last_processing_pipeline.state.get("query_table", "") or ""
    if isinstance(rule, SigmaCorrelationRule):
        table = ",".join(correlation_tables(rule))
    union = union_tables(table, backend.last_processing_pipeline.state.get(CLAIMED_BY))
    return ConvertedRule(path, rule, queries[0], table, union)
