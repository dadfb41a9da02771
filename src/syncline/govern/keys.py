"""The project's secret key and keyed hashes: how the catalog remembers *that* a person withdrew
(and which bytes must never come back) without remembering *who*.

A withdrawal writes keyed BLAKE2b digests (a MAC: ``hashlib.blake2b(key=...)``, faster than
HMAC-SHA256 for the millions of IDs ``verify`` checks) under a random per-project key — of the
subject's pseudonym and of the content hashes of their files — into the ``withdrawn`` table and
the audit log. Anyone holding the project can check "was this file withdrawn?" by hashing it; nobody can
read an identity back from the digests, and without the key a digest cannot even be matched
against a guessed pseudonym. The key lives in the project folder, readable by its owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

KEY_FILE = ".syncline-key"
_TOKEN = re.compile(r"[\w-]+")
KEY_BYTES = 32


class KeyMissingError(RuntimeError):
    """Tombstones exist but the key that made them is gone: refuse, never start a new key."""


def project_key(root: Path, *, must_exist: bool = False) -> bytes:
    """The project's key, created (randomly, owner-only) on first use. ``must_exist``: there
    are tombstones made with it, so a missing key is an error — a new key would silently stop
    recognising every withdrawn file and subject."""
    path = Path(root) / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if must_exist:
            raise KeyMissingError(f"{path} is missing but the project has withdrawal tombstones made with it; "
                                  "restore it from a backup (without it, withdrawn files would be ingested "
                                  "again)") from None
        key = os.urandom(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        return key
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: the project key is {len(key)} bytes, not {KEY_BYTES}; restore it from a backup "
                         "(without it, withdrawn files can no longer be recognised)")
    return key


def keyed_hash(key: bytes, value: str) -> str:
    return hashlib.blake2b(value.encode("utf-8"), key=key, digest_size=32).hexdigest()


class Tombstones:
    """The keyed hashes of withdrawn subjects and files, for ingest to refuse them."""

    def __init__(self, key: bytes | None, actions: dict[str, str]) -> None:
        self.key, self.actions = key, actions

    @classmethod
    def load(cls, root: Path, hashes: list[str], actions: list[str | None]) -> Tombstones:
        """From the ``withdrawn`` table's hashes and actions (the key is only read when there are some)."""
        return cls(project_key(root, must_exist=True) if hashes else None,
                   {h: a or "consent.withdraw" for h, a in zip(hashes, actions, strict=True)})

    def __bool__(self) -> bool:
        return bool(self.actions)

    def has(self, value: str) -> bool:
        return self.why(value) is not None

    def why(self, value: str) -> str | None:
        """The action that purged ``value`` (consent.withdraw, retention.apply), or None."""
        return None if self.key is None else self.actions.get(keyed_hash(self.key, value))

    def names_withdrawn(self, text: str) -> bool:
        """Whether any whole token of ``text`` (letters, digits, ``_``, ``-``) is a withdrawn
        pseudonym: how a manifest attribute like ``caretaker: caretaker-02`` is recognised
        without the pseudonym being stored."""
        return self.key is not None and any(self.has(tok) for tok in _TOKEN.findall(text))

    def scrub(self, value: Any) -> Any:
        """``value`` (JSON-like) without the dict entries and list items that name a withdrawn
        pseudonym."""
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()
                    if not self.names_withdrawn(str(k)) and not self.names_withdrawn(json.dumps(v, default=str))}
        if isinstance(value, list):
            return [self.scrub(v) for v in value if not self.names_withdrawn(json.dumps(v, default=str))]
        return value
