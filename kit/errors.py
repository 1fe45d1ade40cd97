"""The kit's exceptions: one base class, a few subclasses with structured fields.

Every error a user can fix carries a message that says what to change. The CLI maps
``KitError`` subclasses to exit code 2 and prints ``str(error)`` on one line.
"""
from __future__ import annotations

from pathlib import Path


class KitError(Exception):
    """Base class of every error the kit raises on purpose."""


class ParameterError(KitError):
    """A parameter is unknown, malformed or inconsistent with another one."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"parameter {name!r}: {reason}")


class InputError(KitError):
    """The input holds nothing the kit can use (no readable trail file, empty window, ...)."""


class QueryError(KitError):
    """A query engine reported a failed, cancelled or timed-out query."""

    def __init__(self, engine: str, query_id: str, status: str, message: str) -> None:
        self.engine = engine
        self.query_id = query_id
        self.status = status
        self.message = message
        super().__init__(f"{engine} query {query_id} ended {status}: {message}")


class NotebookFailed(KitError):
    """A notebook of a headless run raised an error; its executed copy shows where."""

    def __init__(self, notebook: Path, cell: int, error: str) -> None:
        self.notebook = notebook
        self.cell = cell
        self.error = error
        super().__init__(f"{notebook.name} failed at cell {cell}: {error} (executed copy: {notebook})")


class PolicyError(KitError):
    """A policy document the evaluator cannot read (bad JSON, missing Effect, unknown operator...)."""

    def __init__(self, policy: str, reason: str) -> None:
        self.policy = policy
        self.reason = reason
        super().__init__(f"policy {policy}: {reason}")


class OutputError(KitError):
    """An output folder cannot receive files (a file, not writable, locked by another writer)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after something was kept; ``kept`` says what (e.g. "kept runs/... (2 of 4 notebooks)")."""

    def __init__(self, kept: str) -> None:
        self.kept = kept
        super().__init__(kept)
