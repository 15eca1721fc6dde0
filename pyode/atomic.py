"""Atomic file output: write a temporary sibling, then rename it, so no reader sees half a file."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; it replaces `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces `path` when closed without error."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


class NonFiniteJSONError(ValueError):
    """A value to be written as JSON is NaN or infinite, which JSON cannot represent."""


def first_non_finite(obj: Any, where: str = "") -> str | None:
    """The dotted key of the first NaN or infinite float in nested dicts and lists, or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "(top level)"
    if isinstance(obj, dict):
        items: Iterable[tuple[Any, Any]] = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = first_non_finite(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented JSON, atomically. NaN and infinities are refused (they are not
    JSON, and readers such as R's jsonlite would fail on the whole file later)."""
    bad = first_non_finite(obj)
    if bad is not None:
        raise NonFiniteJSONError(f"{path}: refusing to write the non-finite value at '{bad}'")
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, sort_keys=False, default=str, allow_nan=False)
        handle.write("\n")


def write_csv(path: str | os.PathLike[str], frame: Any) -> None:
    """Write a pandas DataFrame as CSV without its index, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
