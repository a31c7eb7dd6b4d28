"""The standard networks by name, title and source, without importing torch.

The web server lists networks on the form, checks a chosen name and hands out a network's code
(Customize), but never imports torch. `digits.models.networks` stays the one place where a
network is defined: this module reads its `@register(name, title)` decorators from the source.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

NETWORKS_SOURCE = Path(__file__).with_name("networks.py")


@dataclass(frozen=True)
class StandardNetwork:
    name: str
    title: str
    factory: str  # the function that builds it


@functools.cache
def _parsed() -> tuple[str, ast.Module]:
    code = NETWORKS_SOURCE.read_text()
    return code, ast.parse(code)


@functools.cache
def standard_networks() -> dict[str, StandardNetwork]:
    """Every registered network, in the order of the source."""
    found = {}
    for node in _parsed()[1].body:
        for decorator in getattr(node, "decorator_list", ()):
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "register":
                name, title = (ast.literal_eval(arg) for arg in decorator.args)
                found[name] = StandardNetwork(name, title, node.name)
    return found


def names() -> list[str]:
    return list(standard_networks())


def title(name: str) -> str:
    return standard_networks()[name].title


def standalone_source(name: str) -> str:
    """A standard network as self-contained code that defines `network(num_classes, channels,
    height, width)` and needs only torch: what Customize starts from, and the network source
    in a downloaded archive. The factory comes with the helpers of its module that it uses."""
    code, tree = _parsed()
    definitions = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    factory = standard_networks()[name].factory
    needed, todo = set(), [factory]
    while todo:
        current = todo.pop()
        if current in needed:
            continue
        needed.add(current)
        todo += [
            n.id
            for n in ast.walk(definitions[current])
            if isinstance(n, ast.Name) and n.id in definitions and n.id != "register"
        ]
    parts = ["import torch\nfrom torch import nn"]
    for node in tree.body:  # in the module's order, so each helper comes before its users
        if getattr(node, "name", None) in needed:
            part = ast.get_source_segment(code, node)  # without decorators
            if node.name == factory:
                part = part.replace(f"def {factory}(", "def network(", 1)
            parts.append(part)
    return "\n\n\n".join(parts) + "\n"
