"""The package's layout: what a cap on module length once stood for, checked
directly with the standard library's ``ast``.

- every module says its one purpose in a short summary docstring;
- the stage packages import only the stages before them in the data flow
  (data -> extractor -> gains -> prediction -> selection), and the three
  independent stages (affinity, prediction, selection) not each other;
- no import cycle among the modules (imports run when a module loads);
- no private name (``_name``) imported from another package, and, inside a
  package, from another module.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import sklearn_etap

PACKAGE = Path(sklearn_etap.__file__).parent
TOP = "sklearn_etap"

# Which packages each package (first level under sklearn_etap) may import.
# Shared helpers: group encoding, task names, the data loaders, and the one
# import of scikit-learn's parameter-validation helpers.
SHARED = {"_groups", "_task_names", "datasets", "_validation"}
ALLOWED_IMPORTS = {
    "_groups": {"_validation"},
    "_task_names": {"_validation"},
    "_validation": set(),
    "datasets": {"_validation"},
    "_plotting": SHARED,
    # The three stages a user combines: none imports another.
    "_affinity": SHARED,
    "_prediction": SHARED,
    "_selection": SHARED,
    # Gains are measured by training the extractor's models.
    "_gains": SHARED | {"_affinity"},
    "_linearized": SHARED | {"_affinity"},
    # The measure-predict-select loop runs the three later stages.
    "_adaptive": SHARED | {"_gains", "_prediction", "_selection"},
    # The public face of the training loop's hooks.
    "callbacks": {"_affinity"},
    # The Lightning callback records through the affinity stage's recorder.
    "lightning": {"_affinity"},
    # The one list of the estimator checks each shipped estimator is exempt from.
    "_conformance": SHARED | {"_affinity", "_prediction", "_selection"},
    # The command line and the package's front door use everything.
    "_cli": None,
    "__main__": None,
    TOP: None,
}

# Private names imported from another module of the same package (none left;
# an entry here would need its reason).
KNOWN_PRIVATE_IMPORTS = set()


def _module_name(path):
    parts = list(path.with_suffix("").relative_to(PACKAGE.parent).parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _package_of(module):
    """The first-level package (or module) under sklearn_etap, or TOP."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else TOP


def _imports(module):
    """``(target module, imported name or None, at load time)`` for every
    import of a sklearn_etap module in ``module``. ``at load time`` is False
    for imports inside functions (they cannot form a load-time cycle)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        at_load = id(node) in top_level
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == TOP:
                    yield alias.name, None, at_load
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != TOP:
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    yield submodule, None, at_load
                else:
                    yield target, alias.name, at_load


def _is_private(name):
    return name is not None and name.startswith("_") and not name.startswith("__")


def test_every_package_is_placed_in_the_layers():
    packages = {_package_of(m) for m in MODULES}
    assert packages == set(ALLOWED_IMPORTS), (
        "add new packages to ALLOWED_IMPORTS with the stages they may use"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_states_its_purpose(module):
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8")))
    assert doc, f"{module} has no module docstring saying what it is for"
    summary = doc.split("\n\n")[0].splitlines()
    assert len(summary) <= 2, (
        f"{module}: the docstring's first paragraph should state the module's "
        f"one purpose in a sentence, not {len(summary)} lines"
    )


def test_stage_packages_import_only_the_stages_before_them():
    wrong = []
    for module in MODULES:
        source = _package_of(module)
        allowed = ALLOWED_IMPORTS[source]
        if allowed is None:
            continue
        for target, name, _ in _imports(module):
            used = _package_of(target)
            if used == TOP and name == "__version__":
                continue
            if used != source and used not in allowed:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def _load_time_graph():
    graph = defaultdict(set)
    for module in MODULES:
        graph[module]
        for target, _, at_load in _imports(module):
            if at_load and target in MODULES and target != module:
                graph[module].add(target)
    return graph


def test_cycle_finder_finds_a_cycle():
    graph = defaultdict(set, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_when_modules_load():
    assert _cycles(_load_time_graph()) == []


def test_the_import_walk_sees_relative_and_deferred_imports():
    imports = {(t, n) for t, n, _ in _imports("sklearn_etap._adaptive.predictor")}
    assert ("sklearn_etap._prediction", "ETAPRegressor") in imports
    deferred = [at for t, n, at in _imports("sklearn_etap._gains.cache") if n]
    assert False in deferred  # `from .. import __version__` inside a function


def test_no_private_name_is_imported_from_another_module():
    wrong = set()
    for module in MODULES:
        for target, name, _ in _imports(module):
            if _is_private(name) and target != module:
                wrong.add((module, name))
    across_packages = {
        (m, n)
        for m, n in wrong
        for t, name, _ in _imports(m)
        if name == n and _package_of(t) != _package_of(m)
    }
    assert not across_packages, sorted(across_packages)
    assert wrong <= KNOWN_PRIVATE_IMPORTS, sorted(wrong - KNOWN_PRIVATE_IMPORTS)
