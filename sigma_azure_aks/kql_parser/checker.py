"""Check KQL with Microsoft's own Kusto parser, offline.

The npm package ``@kusto/language-service-next`` is Kusto.Language (the parser and semantic
analyzer behind Microsoft's KQL editors) compiled to JavaScript; its minified files ship inside this
package (``bundle/``, with their licences). :class:`KqlChecker` runs them through one of two engines,
with the same checking logic (``kql_service.js``):

* ``embedded``: V8 inside the Python process (the ``mini-racer`` package, installed by the
  ``[validate]`` extra); one engine per process, loaded at the first query and shared by every
  checker (each keeps its own tables).
* ``node``: one long-lived node process per checker (``kql_check.js``), for machines with Node.js.

``engine="auto"`` (the default, or ``$SIGMA_AZURE_AKS_KQL_ENGINE``) takes the embedded engine when
mini-racer is installed, else node. ``$SIGMA_AZURE_AKS_NODE_MODULES`` (or ``node_modules=``) loads
the parser from an npm install instead of the bundled copy. Every table of
:mod:`sigma_azure_aks.sources` is declared, so unknown columns and type errors are reported too.
Where no engine can run, :class:`KqlParserUnavailable` says how to install one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from sigma_azure_aks.sources import TABLES, schema_text

PINNED_VERSION = "12.4.1"
"""The exact version of the npm package this module is tested with (bundle/package.json)."""

NPM_PACKAGE = "@kusto/language-service-next"
NODE_MODULES_ENV = "SIGMA_AZURE_AKS_NODE_MODULES"
ENGINE_ENV = "SIGMA_AZURE_AKS_KQL_ENGINE"
ENGINES = ("auto", "embedded", "node")
EXTRA_HINT = "install the embedded engine with `pip install 'pySigma-pipeline-azure[validate]'`"
INSTALL_HINT = (
    f"install it with `npm install {NPM_PACKAGE}@{PINNED_VERSION}` in the project folder "
    f"(or `npm ci` where package-lock.json is), or point {NODE_MODULES_ENV} at a node_modules "
    "folder that has it"
)
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "kql_check.js"
SERVICE_SCRIPT = HERE / "kql_service.js"
BUNDLE_DIR = HERE / "bundle"
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


@dataclass(frozen=True)
class ParserFiles:
    """The two JavaScript files of the parser, and the npm package version they come from."""

    runtime: Path
    """The Bridge.NET runtime (bridge.min.js or bridge.js)."""
    library: Path
    """Kusto.Language compiled to JavaScript (Kusto.Language.Bridge.min.js or .js)."""
    version: str


def _has_package(node_modules: Path) -> bool:
    return (node_modules / NPM_PACKAGE / "Kusto.Language.Bridge.js").is_file()


def find_node_modules() -> Path | None:
    """``$SIGMA_AZURE_AKS_NODE_MODULES`` when it is set (it must hold the Kusto npm package), else None."""
    configured = os.environ.get(NODE_MODULES_ENV)
    if not configured:
        return None
    folder = Path(configured).expanduser()
    if _has_package(folder):
        return folder
    raise KqlParserUnavailable(f"{NODE_MODULES_ENV}={configured} has no {NPM_PACKAGE}: {INSTALL_HINT}")


def parser_files(node_modules: str | Path | None = None) -> ParserFiles:
    """The parser in `node_modules` (or ``$SIGMA_AZURE_AKS_NODE_MODULES``), else the bundled copy."""
    folder = Path(node_modules) if node_modules is not None else find_node_modules()
    if folder is None:
        runtime, library = BUNDLE_DIR / "bridge.min.js", BUNDLE_DIR / "Kusto.Language.Bridge.min.js"
        if not (runtime.is_file() and library.is_file()):
            raise KqlParserUnavailable(f"the bundled Kusto parser is missing from {BUNDLE_DIR}; reinstall")
        return ParserFiles(runtime, library, _manifest_version(BUNDLE_DIR))
    if not _has_package(folder):
        raise KqlParserUnavailable(f"{folder} has no {NPM_PACKAGE}: {INSTALL_HINT}")
    package = folder / NPM_PACKAGE
    return ParserFiles(package / "bridge.js", package / "Kusto.Language.Bridge.js", installed_version(folder))


def find_node(node: str = "node") -> str:
    """The node executable: a path, or a name looked up on PATH."""
    found = shutil.which(node)
    if found is None:
        raise KqlParserUnavailable(f"Node.js not found as {node!r}: {EXTRA_HINT}, or install Node.js")
    return found


def _manifest_version(package: Path) -> str:
    return str(json.loads((package / "package.json").read_text(encoding="utf-8"))["version"])


def installed_version(node_modules: Path) -> str:
    """The version of the Kusto npm package in a node_modules folder."""
    return _manifest_version(node_modules / NPM_PACKAGE)


def embedded_available() -> bool:
    """Whether the embedded engine (the mini-racer package) is installed."""
    return importlib.util.find_spec("py_mini_racer") is not None


def resolve_engine(engine: str | None = None, *, node: str | None = None) -> str:
    """``embedded`` or ``node``: `engine` (else ``$SIGMA_AZURE_AKS_KQL_ENGINE``, else auto).

    Auto takes the embedded engine when mini-racer is installed, node when `node` is given or
    Node.js is on PATH; where neither is, it raises :class:`KqlParserUnavailable`.
    """
    chosen = (engine or os.environ.get(ENGINE_ENV) or ("node" if node else "auto")).strip().lower()
    if chosen not in ENGINES:
        raise KqlParserUnavailable(
            f"unknown KQL engine {chosen!r} (from {ENGINE_ENV}?): one of {', '.join(ENGINES)}"
        )
    if chosen != "auto":
        return chosen
    if embedded_available():
        return "embedded"
    if shutil.which(node or "node") is not None:
        return "node"
    raise KqlParserUnavailable(f"no engine to run it: {EXTRA_HINT} (or install Node.js)")


def decode_reply(answer: str | bytes, expected_id: int) -> dict[str, Any]:
    """One answer of kql_service.js, checked against the request it answers."""
    reply: dict[str, Any] = json.loads(answer)
    if reply.get("id") != expected_id:
        raise KqlCheckerError(f"answer for request {reply.get('id')!r}, expected {expected_id}")
    if "error" in reply:
        raise KqlCheckerError(f"kql_service.js: {reply['error']}")
    return reply


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

    def __init__(self, node: str, files: ParserFiles) -> None:
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [node, str(SCRIPT), "--runtime", str(files.runtime), "--library", str(files.library)]
            + ["--version", files.version],
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
        return decode_reply(answer.decode("utf-8"), self._next_id)

    def _failure(self, what: str) -> KqlCheckerError:
        self._process.wait()
        self._stderr.seek(0)
        detail = self._stderr.read().decode("utf-8", "replace").strip()
        return KqlCheckerError(f"{what} (exit code {self._process.returncode}): {detail}")

    def close(self) -> None:
        self._finalizer()


class _Engine(Protocol):
    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class KqlChecker:
    """Microsoft's Kusto parser, started at the first query and then reused.

    `engine`: ``"embedded"`` (V8 in this process, shared by every checker), ``"node"`` (one node
    process per checker) or ``"auto"`` (default: ``$SIGMA_AZURE_AKS_KQL_ENGINE``, else embedded when
    mini-racer is installed, else node). Giving `node` (an executable) implies the node engine.
    Use as a context manager, or call :meth:`close`. Calls are serialized by a lock.
    """

    def __init__(
        self,
        tables: TableSchemas | None = None,
        *,
        engine: str | None = None,
        node_modules: str | Path | None = None,
        node: str | None = None,
        database: str = "db",
    ) -> None:
        self._tables = dict(tables) if tables is not None else _default_tables()
        self._engine_choice = engine
        self._node_modules = Path(node_modules) if node_modules is not None else None
        self._node = node
        self._database = database
        self._process: _Engine | None = None
        self._lock = threading.Lock()
        self.engine: str | None = None
        """The engine in use (``embedded`` or ``node``), once started."""
        self.launches = 0
        """How many times this checker has started its parser (a node process, or an embedded session)."""

    def __enter__(self) -> KqlChecker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the node process or drop the embedded session (a later query starts a new one)."""
        with self._lock:
            if self._process is not None:
                self._process.close()
                self._process = None

    def start(self) -> None:
        """Start the parser now rather than at the first query."""
        with self._lock:
            self._started()

    def _started(self) -> _Engine:
        if self._process is None:
            self._process = self._launch()
        return self._process

    def _launch(self) -> _Engine:
        engine = resolve_engine(self._engine_choice, node=self._node)
        files = parser_files(self._node_modules)
        if files.version != PINNED_VERSION:
            warnings.warn(f"{NPM_PACKAGE} {files.version} found, {PINNED_VERSION} expected", stacklevel=4)
        process: _Engine
        if engine == "embedded":
            from .embedded import EmbeddedSession

            process = EmbeddedSession(files)
        else:
            process = _NodeProcess(find_node(self._node or "node"), files)
        self.engine = engine
        self.launches += 1
        try:
            process.request({"tables": self._tables, "database": self._database})
        except KqlCheckerError as exc:
            process.close()
            raise KqlParserUnavailable(
                f"cannot load {NPM_PACKAGE} from {files.library.parent}: {exc}"
            ) from exc
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
