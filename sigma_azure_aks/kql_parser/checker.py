"""Check KQL with Microsoft's own Kusto parser, offline.

The npm package ``@kusto/language-service-next`` is Kusto.Language (the parser and semantic
analyzer behind Microsoft's KQL editors) compiled to JavaScript. :class:`KqlChecker` runs it in one
long-lived node process (``kql_check.js`` beside this module) and asks it, one JSON line per query,
for diagnostics, result columns and decoded string literals. Every table of
:mod:`sigma_azure_aks.tables` is declared, so unknown columns and type errors are reported too.

Node and the npm package are looked up when the first query is checked; where either is missing,
:class:`KqlParserUnavailable` says how to install them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sigma_azure_aks.sources import TABLES, schema_text

PINNED_VERSION = "12.4.1"
"""The exact version of the npm package this module is tested with (see package.json)."""

NPM_PACKAGE = "@kusto/language-service-next"
NODE_MODULES_ENV = "SIGMA_AZURE_AKS_NODE_MODULES"
INSTALL_HINT = (
    f"install it with `npm install {NPM_PACKAGE}@{PINNED_VERSION}` in the project folder "
    f"(or `npm ci` where package-lock.json is), or point {NODE_MODULES_ENV} at a node_modules "
    "folder that has it"
)
SCRIPT = Path(__file__).with_name("kql_check.js")
ERROR = "Error"

TableSchemas = Mapping[str, str | Mapping[str, str]]


class KqlParserUnavailable(RuntimeError):
    """Node or the Kusto npm package cannot be found or loaded."""


class KqlCheckerError(RuntimeError):
    """The parser process failed or rejected a request."""


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic of Kusto's parser; start/length are indices into the query string."""

    code: str
    severity: str
    message: str
    start: int
    length: int
    line: int
    column: int

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity} {self.code}: {self.message}"


@dataclass(frozen=True)
class QueryAnalysis:
    """All the parser says about one query."""

    diagnostics: list[Diagnostic]
    columns: list[str]
    literals: list[str]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def _has_package(node_modules: Path) -> bool:
    return (node_modules / NPM_PACKAGE / "Kusto.Language.Bridge.js").is_file()


def _search_roots() -> Iterator[Path]:
    cwd = Path.cwd().resolve()
    yield from (cwd, *cwd.parents)
    here = Path(__file__).resolve().parent
    yield from here.parents  # the repository (or site-packages) that holds this package


def find_node_modules() -> Path:
    """The node_modules folder that holds the Kusto npm package.

    Looks at ``$SIGMA_AZURE_AKS_NODE_MODULES``, else ``node_modules`` in the current directory or
    any parent, else ``node_modules`` next to this package's repository or site-packages folder.
    """
    configured = os.environ.get(NODE_MODULES_ENV)
    if configured:
        folder = Path(configured).expanduser()
        if _has_package(folder):
            return folder
        raise KqlParserUnavailable(f"{NODE_MODULES_ENV}={configured} has no {NPM_PACKAGE}: {INSTALL_HINT}")
    for root in _search_roots():
        if _has_package(root / "node_modules"):
            return root / "node_modules"
    raise KqlParserUnavailable(f"the npm package {NPM_PACKAGE} is not installed: {INSTALL_HINT}")


def find_node(node: str = "node") -> str:
    """The node executable: a path, or a name looked up on PATH."""
    found = shutil.which(node)
    if found is None:
        raise KqlParserUnavailable(f"Node.js not found as {node!r}; install Node.js, then {INSTALL_HINT}")
    return found


def installed_version(node_modules: Path) -> str:
    """The version of the Kusto npm package in a node_modules folder."""
    manifest = node_modules / NPM_PACKAGE / "package.json"
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def _default_tables() -> dict[str, str]:
    return {name: schema_text(name) for name in TABLES}


def _stop(process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    if process.poll() is None:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()
    stderr.close()


class _NodeProcess:
    """One running ``kql_check.js``: send a request line, read the answer line."""

    def __init__(self, node: str, node_modules: Path) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [node, str(SCRIPT), "--node-modules", str(node_modules)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._next_id = 0
        self._finalizer = weakref.finalize(self, _stop, self._process, self._stderr)

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        line = json.dumps({"id": self._next_id, **payload}, ensure_ascii=True) + "\n"
        try:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(line.encode("ascii"))
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
        except OSError as exc:
            raise self._failure(f"cannot talk to node: {exc}") from exc
        if not answer:
            raise self._failure("node exited")
        reply: dict[str, Any] = json.loads(answer.decode("utf-8"))
        if reply.get("id") != self._next_id:
            raise KqlCheckerError(f"answer for request {reply.get('id')!r}, expected {self._next_id}")
        if "error" in reply:
            raise KqlCheckerError(f"kql_check.js: {reply['error']}")
        return reply

    def _failure(self, what: str) -> KqlCheckerError:
        self._process.wait()
        self._stderr.seek(0)
        detail = self._stderr.read().decode("utf-8", "replace").strip()
        return KqlCheckerError(f"{what} (exit code {self._process.returncode}): {detail}")

    def close(self) -> None:
        self._finalizer()


class KqlChecker:
    """Microsoft's Kusto parser in one node process, started at the first query and then reused.

    Use as a context manager, or call :meth:`close`. Calls are serialized by a lock.
    """

    def __init__(
        self,
        tables: TableSchemas | None = None,
        *,
        node_modules: str | Path | None = None,
        node: str | None = None,
        database: str = "db",
    ) -> None:
        self._tables = dict(tables) if tables is not None else _default_tables()
        self._node_modules = Path(node_modules) if node_modules is not None else None
        self._node = node
        self._database = database
        self._process: _NodeProcess | None = None
        self._lock = threading.Lock()
        self.launches = 0
        """How many node processes this checker has started."""

    def __enter__(self) -> KqlChecker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the node process (a later query starts a new one)."""
        with self._lock:
            if self._process is not None:
                self._process.close()
                self._process = None

    def start(self) -> None:
        """Start the node process now rather than at the first query."""
        with self._lock:
            self._started()

    def _started(self) -> _NodeProcess:
        if self._process is None:
            self._process = self._launch()
        return self._process

    def _launch(self) -> _NodeProcess:
        node = find_node(self._node or "node")
        node_modules = self._node_modules or find_node_modules()
        if not _has_package(node_modules):
            raise KqlParserUnavailable(f"{node_modules} has no {NPM_PACKAGE}: {INSTALL_HINT}")
        version = installed_version(node_modules)
        if version != PINNED_VERSION:
            warnings.warn(f"{NPM_PACKAGE} {version} found, {PINNED_VERSION} expected", stacklevel=4)
        process = _NodeProcess(node, node_modules)
        self.launches += 1
        try:
            process.request({"tables": self._tables, "database": self._database})
        except KqlCheckerError as exc:
            process.close()
            raise KqlParserUnavailable(f"cannot load {NPM_PACKAGE} from {node_modules}: {exc}") from exc
        return process

    def package_version(self) -> str:
        """The version of the npm package the running parser was loaded from."""
        with self._lock:
            return str(self._started().request({"command": "version"})["version"])

    def fixed_text_words(self) -> set[str]:
        """Every word of every token with fixed text Kusto.Language knows (keywords, operator
        names such as ``matches regex``), the source of :mod:`sigma_azure_aks.kql_reserved`."""
        with self._lock:
            tokens = self._started().request({"command": "tokens"})["tokens"]
        return {word for text, _ in tokens for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}

    def _ask(self, query: str, want: list[str]) -> dict[str, Any]:
        with self._lock:
            return self._started().request({"query": query, "want": want})

    def analyze(self, query: str) -> QueryAnalysis:
        """Diagnostics, result columns and string literals of a query, in one round trip."""
        reply = self._ask(query, ["diagnostics", "columns", "literals"])
        return QueryAnalysis(_diagnostics(reply), list(reply["columns"]), list(reply["literals"]))

    def diagnostics(self, query: str) -> list[Diagnostic]:
        """Every diagnostic (errors, warnings, ...) of a query."""
        return _diagnostics(self._ask(query, ["diagnostics"]))

    def errors(self, query: str) -> list[Diagnostic]:
        """The diagnostics of severity Error."""
        return [d for d in self.diagnostics(query) if d.is_error]

    def result_columns(self, query: str) -> list[str]:
        """Names of the columns the query returns ([] when its result is not a table)."""
        return list(self._ask(query, ["columns"])["columns"])

    def string_literals(self, query: str) -> list[str]:
        """Decoded value of every string literal, in order; adjacent literals count as one."""
        return list(self._ask(query, ["literals"])["literals"])


def _diagnostics(reply: Mapping[str, Any]) -> list[Diagnostic]:
    return [Diagnostic(**item) for item in reply["diagnostics"]]


def check_queries(queries: Iterable[tuple[str, str]]) -> dict[str, list[Diagnostic]]:
    """Diagnostics (of every severity) for each ``(label, query)``, keyed by label, with one process."""
    with KqlChecker() as checker:
        return {label: checker.diagnostics(query) for label, query in queries}
