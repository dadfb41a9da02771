"""Find the files to ingest, in a deterministic order, and reject paths that cannot be read.

Paths come back sorted so that every run sees files in the same order. A path that cannot be
used (missing, a broken link, an unreadable folder, a name that is not valid UTF-8) becomes a
``Rejected`` with a one-line reason instead of an exception.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncline.media.types import MediaErrorKind


@dataclass(frozen=True)
class Found:
    path: Path
    root: Path


@dataclass(frozen=True)
class Rejected:
    display: str
    kind: MediaErrorKind
    reason: str


def display_path(path: Path | str) -> str:
    """A printable, valid-UTF-8 form of any path (undecodable bytes shown as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _utf8_ok(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(root: Path, skip: set[Path]) -> Iterator[Found | Rejected]:
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.resolve() in skip:
                continue
            yield _check(path, root)
        while errors:
            err = errors.pop()
            yield Rejected(display_path(err.filename or root), MediaErrorKind.UNREADABLE,
                           f"cannot list folder: {err.strerror}; fix its permissions and re-run")
    while errors:
        err = errors.pop()
        yield Rejected(display_path(err.filename or root), MediaErrorKind.UNREADABLE,
                       f"cannot list folder: {err.strerror}; fix its permissions and re-run")


def _check(path: Path, root: Path) -> Found | Rejected:
    if not _utf8_ok(path):
        return Rejected(display_path(path), MediaErrorKind.UNREADABLE,
                        "file name is not valid UTF-8; rename it (e.g. with convmv) and re-run")
    if path.is_symlink() and not path.exists():
        return Rejected(str(path), MediaErrorKind.UNREADABLE,
                        "broken symbolic link; point it at an existing file or remove it")
    if not path.is_file():
        return Rejected(str(path), MediaErrorKind.UNREADABLE,
                        "not a regular file (device, socket or fifo); copy the data into a file")
    return Found(path, root)


def discover(paths: list[Path], *, skip: set[Path] | None = None) -> Iterator[Found | Rejected]:
    """Every file under ``paths`` (files or folders), sorted, dot-files skipped."""
    skip = {p.resolve() for p in (skip or set())}
    for given in sorted(paths, key=lambda p: os.fsencode(p)):
        if given.is_dir():
            yield from _walk(given, skip)
        elif given.exists() or given.is_symlink():
            if given.resolve() not in skip:
                yield _check(given, given.parent)
        else:
            yield Rejected(display_path(given), MediaErrorKind.UNREADABLE,
                           "no such file or folder; check the path")
