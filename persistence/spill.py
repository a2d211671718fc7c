"""Spill files: where the recorder keeps records while the database is away for long.

When more records wait than the recorder may hold in memory, it appends them to a local,
append-only file instead, and later stores them from there, in order, once the database is
back; memory stays bounded however long the outage lasts. A process that ends (SIGTERM,
interpreter exit) while the database is still away leaves its file behind, and the next
recorder started on the same database adopts it and stores its records: nothing is lost.

Layout: one folder per database (named by a hash of its URL without password) under the spill
directory; one file per recorder, ``<pid>-<random>.spill``. A file is a sequence of frames, a
4-byte big-endian length then a pickled list of records. The records are this package's own
plain dataclasses, written and read only by the recorder, in a folder only this user can read
(mode 0700). A frame cut short by a crash mid-write is ignored, as is everything after it.

The owner holds an exclusive `flock` on its file while it lives; a file whose lock can be
taken belongs to a process that is gone: it is an orphan, to adopt.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import struct
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from persistence.records import Record

__all__ = ["SpillFile", "orphaned_spills", "spill_folder"]

_LENGTH: Final = struct.Struct(">I")
SUFFIX: Final = ".spill"


def spill_folder(spill_dir: Path, database_key: str) -> Path:
    """The folder for spill files of the database named by `database_key` (its safe URL)."""
    digest = hashlib.sha256(database_key.encode()).hexdigest()[:16]
    return spill_dir / digest


class SpillFile:
    """One append-only spill file, locked by its owner; records are read back in order."""

    def __init__(self, path: Path, *, adopt: bool = False) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_RDWR | (0 if adopt else os.O_CREAT | os.O_EXCL)
        fd = os.open(path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._file = os.fdopen(fd, "r+b", buffering=0)
        self._write_at = self._file.seek(0, os.SEEK_END)
        self._read_at = 0
        self.unread = 0
        if adopt:  # count what is there; a frame cut short at the end is not part of it
            good_end = 0
            for records, end in self._frames():
                self.unread += len(records)
                good_end = end
            self._write_at = good_end

    @classmethod
    def create(cls, folder: Path) -> SpillFile:
        return cls(folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}{SUFFIX}")

    def append(self, records: Sequence[Record]) -> None:
        """Add `records` at the end (one frame); they are in the OS's hands when this returns."""
        if not records:
            return
        payload = pickle.dumps(list(records), protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._write_at)
        self._file.write(_LENGTH.pack(len(payload)) + payload)
        self._write_at += _LENGTH.size + len(payload)
        self.unread += len(records)

    def sync(self) -> None:
        """Make the file durable (the OS's cache survives the process, not the machine)."""
        os.fsync(self._file.fileno())

    def peek(self) -> tuple[list[Record], int] | None:
        """The next unread frame's records and the offset after it; None when all are read."""
        for records, end in self._frames(self._read_at):
            return records, end
        return None

    def consumed(self, end: int, count: int) -> None:
        """The frame that ends at `end` (`count` records) is stored: read on from there."""
        self._read_at = end
        self.unread -= count

    @property
    def write_offset(self) -> int:
        return self._write_at

    @property
    def read_offset(self) -> int:
        return self._read_at

    def _frames(self, start: int = 0) -> Iterator[tuple[list[Record], int]]:
        offset = start
        while offset + _LENGTH.size <= self._write_at:
            self._file.seek(offset)
            (size,) = _LENGTH.unpack(self._file.read(_LENGTH.size))
            end = offset + _LENGTH.size + size
            if end > self._write_at:
                return  # a frame cut short by a crash: nothing after it is trusted
            records = pickle.loads(self._file.read(size))
            yield records, end
            offset = end

    def close(self, *, delete: bool) -> None:
        """Release the lock; with `delete`, remove the file (every record in it is stored)."""
        if delete:
            self.path.unlink(missing_ok=True)
        self._file.close()


def orphaned_spills(folder: Path) -> list[SpillFile]:
    """Spill files in `folder` left by processes that are gone, oldest first, now owned."""
    if not folder.is_dir():
        return []
    adopted = []
    for path in sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime):
        try:
            adopted.append(SpillFile(path, adopt=True))
        except OSError:  # locked: its process is alive and still owns it
            continue
    return adopted
