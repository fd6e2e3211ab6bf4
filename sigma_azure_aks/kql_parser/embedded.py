"""Microsoft's Kusto parser in V8 embedded in this Python process (the ``mini-racer`` package).

One engine per process (per set of parser files), loaded at the first query (about half a second)
and shared by every :class:`~sigma_azure_aks.kql_parser.checker.KqlChecker`: each checker is a
*session* of the engine with its own tables. The engine runs the same checking logic as the node
process (``kql_service.js``), through the same JSON requests. mini-racer is imported here only, when
the first engine is loaded, so importing the plugin does not pay for it.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from .checker import (
    EXTRA_HINT,
    SERVICE_SCRIPT,
    KqlCheckerError,
    KqlParserUnavailable,
    ParserFiles,
    decode_reply,
)

_CONSOLE = "if (typeof console === 'undefined') { var console = {log() {}, info() {}, warn() {}, error() {}, debug() {}}; }"
_SETUP = "var kqlService = new KqlService.Service(Kusto, {version});\nfunction kqlRespond(line) {{ return KqlService.respond(kqlService, line); }}"

_lock = threading.Lock()
_engines: dict[ParserFiles, _Engine] = {}
_sessions = itertools.count(1)
loads = 0
"""How many engines this process has loaded (one, unless parser files from elsewhere were asked for)."""


class _Engine:
    """One V8 context with the parser and kql_service.js loaded."""

    def __init__(self, files: ParserFiles) -> None:
        try:
            from py_mini_racer import MiniRacer
        except ImportError as exc:
            raise KqlParserUnavailable(
                f"the embedded engine (mini-racer) is not installed: {EXTRA_HINT}"
            ) from exc
        self.pid = os.getpid()
        self._context = MiniRacer()
        try:
            self._context.eval(_CONSOLE)
            for script in (files.runtime, files.library, SERVICE_SCRIPT):
                self._context.eval(script.read_text(encoding="utf-8"))
            self._context.eval(_SETUP.format(version=json.dumps(files.version)))
        except Exception as exc:  # mini-racer's JS errors have no common public base class
            self.close()
            raise KqlParserUnavailable(
                f"cannot load the Kusto parser from {files.library.parent}: {exc}"
            ) from exc

    def respond(self, line: str) -> str:
        try:
            answer = self._context.eval(f"kqlRespond({json.dumps(line)})")
        except Exception as exc:
            raise KqlCheckerError(f"the embedded engine failed: {exc}") from exc
        if not isinstance(answer, str):
            raise KqlCheckerError(f"the embedded engine answered {answer!r}")
        return answer

    def close(self) -> None:
        self._context.close()


def _engine(files: ParserFiles) -> _Engine:
    """The process's engine for these files, loaded on first use (and again in a forked child)."""
    global loads
    engine = _engines.get(files)
    if engine is None or engine.pid != os.getpid():
        engine = _engines[files] = _Engine(files)
        loads += 1
    return engine


@atexit.register
def _close_all() -> None:
    # V8 must be torn down before the interpreter: left to garbage collection, exit can hang.
    with _lock:
        for engine in _engines.values():
            if engine.pid == os.getpid():
                engine.close()
        _engines.clear()


class EmbeddedSession:
    """One checker's view of the shared engine: its own tables, the same request protocol."""

    def __init__(self, files: ParserFiles) -> None:
        self._files = files
        self._session = f"s{next(_sessions)}"
        self._next_id = 0
        self._tables: Mapping[str, Any] | None = None
        with _lock:
            self._engine = _engine(files)

    def request(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        with _lock:
            engine = _engine(self._files)
            if engine is not self._engine and self._tables is not None and "tables" not in payload:
                self._ask(engine, self._tables)  # a new engine (in a forked child) learns our tables
            self._engine = engine
            if "tables" in payload:
                self._tables = payload
            return self._ask(engine, payload)

    def _ask(self, engine: _Engine, payload: Mapping[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        line = json.dumps({"id": self._next_id, "session": self._session, **payload}, ensure_ascii=True)
        return decode_reply(engine.respond(line), self._next_id)

    def close(self) -> None:
        with _lock:
            engine = _engines.get(self._files)
            if engine is not None and engine.pid == os.getpid():
                engine.respond(json.dumps({"command": "forget", "session": self._session}))
