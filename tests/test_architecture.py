"""The import graph of roi, imports inside functions included, has no cycle at all: not between
siblings (import-linter's acyclic_siblings contract checks those), nor between a package and its own
modules, which that contract does not see."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_module_of_roi_imports_itself_back_by_any_path():
    assert _cycles(grimp.build_graph("roi")) == []


def test_the_check_finds_a_cycle_between_a_package_and_its_module():
    graph = grimp.build_graph("roi")
    assert "roi.demo.run" in graph.find_modules_directly_imported_by("roi.demo")  # the package imports its module
    graph.add_import(importer="roi.demo.run", imported="roi.demo")  # as `from . import x` in a function would
    assert ["roi.demo", "roi.demo.run"] in _cycles(graph)
