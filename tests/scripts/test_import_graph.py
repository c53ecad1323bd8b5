"""scripts/import-graph: the packages' import graph has no cycle, and the command would say so if it had."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys

from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "import-graph"


def load_script():
    loader = importlib.machinery.SourceFileLoader("import_graph", str(SCRIPT))
    spec = importlib.util.spec_from_loader("import_graph", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_command_prints_the_graph_and_finds_no_cycle():
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "contract         -> (nothing)" in run.stdout
    assert "no cycle among 7 packages" in run.stdout


def test_a_cycle_is_found_even_through_a_function_level_import():
    graph = load_script()
    assert graph.find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert graph.find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_count(tmp_path):
    graph = load_script()
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from pkg.other import thing\n    import pkg.third\n")
    assert graph.imported_modules(source, {"pkg.other", "pkg.third", "pkg.other.thing"}) == {
        "pkg.other",
        "pkg.third",
        "pkg.other.thing",
    }


def test_the_contract_may_import_no_other_package():
    graph = load_script()
    packages = {name: set() for name in graph.PACKAGES} | {
        "contract": {"service_runtime"},
        "frontdoor": {"signer_worker"},
    }
    problems = graph.forbidden_edges(packages)
    assert any("contract imports service_runtime" in p for p in problems)
    assert any("frontdoor imports signer_worker" in p for p in problems)
