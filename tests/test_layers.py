"""The package's layers import downward only: the graph of imports between our modules, built
from the source, has no cycle. Imports inside functions count too (they used to hide cycles);
only those made for type checking do not."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "digits"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(tree: ast.Module, known: set[str]) -> set[str]:
    """Our modules that a module imports, anywhere but under `if TYPE_CHECKING:`."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node):
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names if alias.name in known}
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    submodule = f"{child.module}.{alias.name}"
                    found.add(submodule if submodule in known else child.module)
    return found & known


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {module_name(p): imports_of(ast.parse(p.read_text()), known) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting, done = [], set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return visiting[visiting.index(module) :] + [module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            if cycle := visit(target):
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "digits.jobs.store" in graph["digits.jobs.events"]
    assert "digits.files" in graph["digits.jobs.store"]
    assert "digits.jobs.context" in graph["digits.models.train"]


def test_no_module_imports_itself_through_others():
    assert find_cycle(import_graph()) is None


def test_a_cycle_would_be_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_lower_layers_never_import_upper_ones():
    """files and config at the bottom; hardware and jobs below datasets and models; the web
    layer on top, imported by nothing but the server."""
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith(("digits.files", "digits.config")):
            assert all(not t.startswith("digits.") or t == "digits.config" for t in targets), module
        if module.startswith(("digits.hardware", "digits.jobs")):
            assert not any(
                t.startswith(("digits.datasets", "digits.models", "digits.webapp")) for t in targets
            ), (module, targets)
        if not module.startswith(("digits.webapp", "digits.server", "digits.cli")):
            assert not any(t.startswith("digits.webapp") for t in targets), (module, targets)
