"""Fresh virtual environments that can import only some packages (and what those need).

Installing torch into a new environment for each test run would take minutes; instead the new
environment sees, through a .pth file, links to exactly those distributions' files from this
one: the same packages a `pip install` of them would bring, and nothing else (no `digits`).
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement


def _closure(names: list[str]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        distribution = metadata.distribution(name)
        seen[name] = distribution
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def venv_with(folder: Path, packages: list[str]) -> Path:
    """A virtual environment at `folder` importing only `packages`; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    ask = "import sysconfig; print(sysconfig.get_path('purelib'))"
    answer = subprocess.run([python, "-c", ask], capture_output=True, text=True, check=True)
    site = Path(answer.stdout.strip())
    shared = folder / "linked"
    shared.mkdir()
    here = Path(sysconfig.get_path("purelib"))
    for distribution in _closure(packages):
        for file in distribution.files or ():
            parts = Path(file).parts
            if not parts or parts[0] in ("..", "__pycache__"):
                continue
            link = shared / parts[0]
            if not link.exists():
                link.symlink_to(here / parts[0])
    (site / "linked.pth").write_text(str(shared) + "\n")
    return python


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "classification"


def run_outside(python: Path, script: str, *args) -> str:
    """An example script in a fresh environment, from a folder where `digits` is not found."""
    command = [str(python), str(EXAMPLES / script), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=python.parent, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout
