"""The package's layers import downward only: the graph of imports between our modules, built
from the source, has no cycle. Imports inside functions count too (they used to hide cycles),
relative imports, and imports by name (a module named in a string: `python -m`, a warm
module, a task's `training_module`); only those made for type checking do not, and the two
registries' lists of their built-ins (`BUILTIN_MODULES`), which load by name what registers
into them: their one sanctioned reference upward."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "digits"
SANCTIONED = "BUILTIN_MODULES"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The module an import-from names, relative ones resolved against `module`."""
    if node.level == 0:
        return node.module
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _sanctioned_strings(tree: ast.Module) -> set[int]:
    """The ids of the string constants in a registry's list of its built-ins."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == SANCTIONED for t in node.targets
        ):
            ids |= {id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return ids


def imports_of(tree: ast.Module, known: set[str], module: str = "", package=False) -> set[str]:
    """Our modules that a module imports, anywhere but under `if TYPE_CHECKING:`."""
    found = set()
    skip = _sanctioned_strings(tree)
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in ast.walk(node):
            if isinstance(child, ast.Import):
                found |= {alias.name for alias in child.names if alias.name in known}
            elif isinstance(child, ast.ImportFrom):
                source = _absolute(child, module, package)
                for alias in child.names:
                    submodule = f"{source}.{alias.name}"
                    found.add(submodule if submodule in known else source)
            elif isinstance(child, ast.Constant) and id(child) not in skip:
                if isinstance(child.value, str) and child.value in known:
                    found.add(child.value)  # imported by name
    return (found & known) - {module}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {
        module_name(p): imports_of(
            ast.parse(p.read_text()), known, module_name(p), p.name == "__init__.py"
        )
        for p in paths
    }


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
    # By name: the trainer that the model job type starts, a task's training module.
    assert "digits.models.train" in graph["digits.models.launch"]
    assert "digits.tasks.classification.training" in graph["digits.tasks.classification"]
    # Not the registries' lists of their built-ins.
    assert "digits.models.job_type" not in graph["digits.jobs.types"]


def test_relative_and_by_name_imports_are_read():
    known = {"digits.a", "digits.a.b", "digits.a.c", "digits.d"}
    tree = ast.parse(
        "from . import b\nfrom .c import thing\nfrom .. import d\nRUN = 'digits.d'\n"
        "BUILTIN_MODULES = ('digits.a.c',)"
    )
    assert imports_of(tree, known, "digits.a", package=True) == {
        "digits.a.b",
        "digits.a.c",
        "digits.d",
    }
    nested = ast.parse("from . import c\nfrom .. import d")
    assert imports_of(nested, known, "digits.a.b") == {"digits.a.c", "digits.d"}


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
        if module == "digits.tasks":  # the registry: facts only, below datasets and models
            assert targets <= {"digits.config", "digits.registry"}, targets
        if not module.startswith("digits.tasks."):  # a task is reached through the registry
            tasks = {t for t in targets if t.startswith("digits.tasks.")}
            assert tasks <= {"digits.tasks.training"}, (module, tasks)
