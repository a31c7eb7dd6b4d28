"""File I/O that every layer shares, below all of them: atomic writes, JSON-lines reads, locks.

A reader never sees half a file (write to a temporary file, fsync, rename, fsync the folder),
and writers in different processes and hosts serialize on an exclusive `flock`.

A job's folder is written by its job's code, which may be a user's (sandboxed, but free in its
own folder): so what our processes read or append there is opened without following a link,
and only a regular file with no other name counts (`read_regular`, `open_regular`,
`open_append`). A link planted there reads as no file at all.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class NotARegularFile(FileNotFoundError):
    """A link, a device, a folder, or a file with a second name elsewhere (a hard link), where
    a job's file was expected: as good as no file."""


def _checked(fd: int, path: Path) -> int:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise NotARegularFile(f"{path} is not a regular file")
    return fd


def _open_last(path: Path, flags: int, dir_fd: int | None = None, mode: int = 0o644) -> int:
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # a link; a fifo or socket
            raise NotARegularFile(f"{path} is not a regular file") from None
        raise
    return _checked(fd, path)


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file, its last component not followed if a link."""
    with open_read(path) as f:
        return f.read()


def open_regular(path: Path, under: Path) -> BinaryIO:
    """`path` opened for reading, no link followed on the way from the folder `under`
    (every component opened by itself, relative to the one before)."""
    parts = path.relative_to(under).parts
    if not parts:
        raise NotARegularFile(f"{path} is a folder")
    fd = os.open(under, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except NotADirectoryError:
                raise NotARegularFile(f"{path}: {part} is not a folder") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise NotARegularFile(f"{path}: {part} is a link") from None
                raise
            os.close(fd)
            fd = inner
        return os.fdopen(_open_last(Path(parts[-1]), os.O_RDONLY, dir_fd=fd), "rb")
    finally:
        os.close(fd)


def open_append(path: Path, readable: bool = False) -> BinaryIO:
    """A job's file to append to (created if need be), never through a link."""
    flags = (os.O_RDWR if readable else os.O_WRONLY) | os.O_APPEND | os.O_CREAT
    return os.fdopen(_open_last(path, flags), "a+b" if readable else "ab")


def read_last_bytes(path: Path, size: int) -> bytes:
    """Up to the last `size` bytes of a job's file (none if it is missing or not regular)."""
    try:
        with open_read(path) as f:
            f.seek(max(0, f.seek(0, 2) - size))
            return f.read()
    except FileNotFoundError:
        return b""


def open_read(path: Path) -> BinaryIO:
    """A job's file to read, never through a link (see read_regular)."""
    return os.fdopen(_open_last(path, os.O_RDONLY), "rb")


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
        return parse_json_lines(read_regular(path).splitlines())
    except FileNotFoundError:
        return []


def read_last_json_lines(path: Path, count: int, line_size: int = 2048) -> list:
    """The last `count` lines of a JSON-lines file that may be long, read from its end."""
    # The first line may be cut where the read starts: it fails to parse and is skipped.
    return parse_json_lines(read_last_bytes(path, count * line_size).splitlines()[-count:])


def parse_json_lines(lines: list[bytes]) -> list:
    """Each line that parses as JSON; a line cut short (by a crash, a seek) is skipped."""
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
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
