"""File I/O that every layer shares, below all of them: atomic writes, JSON-lines reads, locks.

A reader never sees half a file (write to a temporary file, fsync, rename, fsync the folder),
and writers in different processes and hosts serialize on an exclusive `flock`.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_json_atomically(
    path: Path, data: object, readable: bool = True, durable: bool = True
) -> None:
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`.
    `readable=False` for large files: indented JSON takes json's pure-Python encoder, several
    times slower (a Classify Many of thousands of images). `durable=False` for messages that
    live milliseconds (a request to a worker and its answer): whole, but not worth an fsync."""
    text = json.dumps(data, indent=2, sort_keys=True) if readable else json.dumps(data)
    write_text_atomically(path, text, durable)


def write_lines_atomically(path: Path, lines: list[str]) -> None:
    write_text_atomically(path, "".join(line + "\n" for line in lines))


def write_text_atomically(path: Path, text: str, durable: bool = True) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def read_json_lines(path: Path) -> list:
    """Each line of a JSON-lines file that parses; a line cut short by a crash is skipped."""
    try:
        return _parse_lines(path.read_bytes().splitlines())
    except FileNotFoundError:
        return []


def read_last_json_lines(path: Path, count: int, line_size: int = 2048) -> list:
    """The last `count` lines of a JSON-lines file that may be long, read from its end."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - count * line_size))
            # The first line may be cut by the seek: it fails to parse and is skipped.
            return _parse_lines(f.read().splitlines()[-count:])
    except FileNotFoundError:
        return []


def _parse_lines(lines: list[bytes]) -> list:
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:  # not JSON, or cut inside a multi-byte character
            continue
    return rows


@contextmanager
def locked(lock_file: Path, mode: int = 0o644) -> Iterator[int]:
    """Hold an exclusive `flock` on `lock_file` (created if need be) while inside; yields its
    descriptor. FileNotFoundError if its folder does not exist."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
