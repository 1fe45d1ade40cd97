"""Which processes live, from /proc (Linux): for tests that interrupt a real run."""
from __future__ import annotations

from pathlib import Path

HAS_PROC = Path("/proc/self/stat").exists()


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` that still run (zombies count as gone)."""
    return {pid for pid in pids if (state := _state_and_parent(pid)) and state[0] != "Z"}


def descendants(pid: int) -> set[int]:
    """Live children of ``pid``, their children, and so on."""
    parents = {int(path.name): state[1] for path in Path("/proc").glob("[0-9]*")
               if (state := _state_and_parent(int(path.name))) and state[0] != "Z"}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found
