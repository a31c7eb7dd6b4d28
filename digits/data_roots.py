"""Server-side paths that users name: allowed only inside the configured data roots."""

from __future__ import annotations

import os
from pathlib import Path


class PathNotAllowed(ValueError):
    """A path outside every data root, or one that cannot be a path at all."""


def resolve_in_roots(text: str, roots: tuple[Path, ...]) -> Path:
    """The real path `text` names, if it lies inside one of `roots` (symlinks followed)."""
    return PathsInRoots(roots).resolve(text)


class PathsInRoots:
    """resolve_in_roots for many paths (a list of thousands of images): each folder's real
    path is looked up once, then a file costs one lstat instead of one per path component."""

    def __init__(self, roots: tuple[Path, ...]):
        if not roots:
            raise PathNotAllowed(
                "server paths are disabled: start the server with --data-roots (or "
                "DIGITS_DATA_ROOTS) naming the folders users may read, or upload the files instead"
            )
        self.roots = roots
        self.real_roots = [Path(os.path.realpath(root)) for root in roots]
        self._folders: dict[Path, Path] = {}

    def resolve(self, text: str) -> Path:
        if not text or "\0" in text:
            raise PathNotAllowed("not a valid path")
        path = Path(os.path.expanduser(text))
        if not path.is_absolute():
            raise PathNotAllowed(f"{text!r} is not an absolute path")
        real = self._real(path)
        for real_root in self.real_roots:
            if real == real_root or real_root in real.parents:
                if _hidden(real.relative_to(real_root)):
                    # Dot-files and dot-folders (~/.ssh, ~/.aws) are no one's images.
                    raise PathNotAllowed(f"{text!r} is a hidden file or inside a hidden folder")
                return real
        allowed = ", ".join(str(r) for r in self.roots)
        raise PathNotAllowed(f"{text!r} is outside the data roots ({allowed})")

    def _real(self, path: Path) -> Path:
        if path.name in ("", ".", ".."):
            return Path(os.path.realpath(path))
        folder = self._folders.get(path.parent)
        if folder is None:
            folder = self._folders[path.parent] = Path(os.path.realpath(path.parent))
        inside = folder / path.name
        return Path(os.path.realpath(inside)) if os.path.islink(inside) else inside


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
