"""Server-side paths that users name: allowed only inside the configured data roots."""

from __future__ import annotations

import os
from pathlib import Path


class PathNotAllowed(ValueError):
    """A path outside every data root, or one that cannot be a path at all."""


def resolve_in_roots(text: str, roots: tuple[Path, ...]) -> Path:
    """The real path `text` names, if it lies inside one of `roots` (symlinks followed)."""
    if not roots:
        raise PathNotAllowed(
            "server paths are disabled: start the server with --data-roots (or DIGITS_DATA_ROOTS) "
            "naming the folders users may read, or upload the files instead"
        )
    if not text or "\0" in text:
        raise PathNotAllowed("not a valid path")
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        raise PathNotAllowed(f"{text!r} is not an absolute path")
    real = Path(os.path.realpath(path))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            return real
    allowed = ", ".join(str(r) for r in roots)
    raise PathNotAllowed(f"{text!r} is outside the data roots ({allowed})")
