"""fundiff.workflow.deps: the library files a rule's script can execute, computed from imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fundiff.workflow.deps import closure, imported_modules, module_closure
from tests.helpers.rules import rule_libs, rule_scripts
from tests.helpers.workflow import REPO

SRC = REPO / "src"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))


@pytest.fixture()
def pkg(tmp_path) -> Path:
    """A synthetic ``fundiff`` package: absolute, relative, lazy and cyclic imports."""
    write(
        tmp_path,
        {
            "fundiff/__init__.py": "",
            "fundiff/a.py": "import os\nfrom fundiff import b\n",
            "fundiff/b.py": "from . import c\n",
            "fundiff/c.py": "import fundiff.a\n",  # a cycle: a -> b -> c -> a
            "fundiff/lazy.py": "def f():\n    from fundiff.sub.deep import g\n    return g\n",
            "fundiff/sub/__init__.py": "from ..a import *\n",
            "fundiff/sub/deep.py": "from .. import b\nfrom .sibling import x\n",
            "fundiff/sub/sibling.py": "x = 1\n",
            "fundiff/alone.py": "import numpy\n",
            "fundiff/plugin.py": "from fundiff.c import *\n",
        },
    )
    return tmp_path


def names(files, root: Path) -> list[str]:
    return sorted(str(Path(f).relative_to(root)) for f in files)


def test_imported_modules_resolves_absolute_relative_and_from_imports(pkg):
    f = pkg / "fundiff/sub/deep.py"
    assert imported_modules(f, pkg) == {"fundiff.b", "fundiff.sub.sibling"}
    # `from fundiff import b`: b is a module; third-party imports are ignored
    assert imported_modules(pkg / "fundiff/a.py", pkg) == {"fundiff.b"}
    assert imported_modules(pkg / "fundiff/alone.py", pkg) == set()
    # a relative import inside a package's __init__ resolves against the package itself
    assert imported_modules(pkg / "fundiff/sub/__init__.py", pkg) == {"fundiff.a"}


def test_closure_follows_lazy_imports_packages_and_cycles(pkg):
    script = pkg / "script.py"
    script.write_text("import sys\n\ndef main():\n    from fundiff.lazy import f\n")
    assert names(closure(script, pkg), pkg) == [
        "fundiff/__init__.py",
        "fundiff/a.py",
        "fundiff/b.py",
        "fundiff/c.py",
        "fundiff/lazy.py",
        "fundiff/sub/__init__.py",  # runs on importing fundiff.sub.deep
        "fundiff/sub/deep.py",
        "fundiff/sub/sibling.py",
    ]
    assert names(closure(pkg / "fundiff/alone.py", pkg), pkg) == []


def test_module_closure_is_the_plugin_with_its_packages_and_imports(pkg):
    assert names(module_closure("fundiff.plugin", pkg), pkg) == [
        "fundiff/__init__.py",
        "fundiff/a.py",
        "fundiff/b.py",
        "fundiff/c.py",
        "fundiff/plugin.py",
    ]
    with pytest.raises(ValueError, match="no module 'fundiff.nope'"):
        module_closure("fundiff.nope", pkg)


# Run each script's module-level imports in a fresh interpreter and list the fundiff files that
# Python actually loaded: the computed closure must contain every one of them.
PROBE = """
import ast, json, sys
from pathlib import Path
out = {}
for path in sys.argv[1:]:
    before = set(sys.modules)
    tree = ast.parse(Path(path).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=top, type_ignores=[]), path, "exec"), {"__name__": "probe"})
    out[path] = sorted(
        m.__file__ for n, m in list(sys.modules.items())
        if n.split(".")[0] == "fundiff" and getattr(m, "__file__", None)
    )
    for n in set(sys.modules) - before:
        if n.split(".")[0] == "fundiff":
            del sys.modules[n]
print(json.dumps(out))
"""


def test_closure_contains_every_module_a_script_loads_at_run_time():
    scripts = sorted((REPO / "scripts").glob("*.py"))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, scripts)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout)
    assert len(loaded) == len(scripts)
    for script, files in loaded.items():
        assert files, f"{script} imports no fundiff module"
        missing = set(map(Path, files)) - set(closure(Path(script), SRC))
        assert not missing, f"{script}: loaded but not declared: {sorted(missing)}"


def test_every_script_rule_declares_its_own_scripts_library():
    scripts, libs = rule_scripts(), rule_libs()
    assert len(scripts) >= 25
    wrong = {r: (s, libs[r]) for r, s in scripts.items() if libs[r] != s}
    assert not wrong, f"rules whose lib=script_lib(...) is missing or names another script: {wrong}"


def test_imports_nested_in_any_statement_are_found(tmp_path):
    """Imports inside functions, classes, if / try / except / finally / with / for / while and
    match blocks all count (the statement walk visits every nested body)."""
    src = tmp_path / "src"
    pkg = src / "fundiff"
    pkg.mkdir(parents=True)
    names = [f"m{i}" for i in range(10)]
    for n in ["__init__", *names]:
        (pkg / f"{n}.py").write_text("")
    (tmp_path / "script.py").write_text(
        "def f():\n    import fundiff.m0\n"
        "class C:\n    def g(self):\n        from fundiff import m1\n"
        "if x:\n    pass\nelse:\n    import fundiff.m2\n"
        "try:\n    import fundiff.m3\nexcept ImportError:\n    import fundiff.m4\n"
        "finally:\n    import fundiff.m5\n"
        "with open('a') as f:\n    import fundiff.m6\n"
        "for i in []:\n    import fundiff.m7\n"
        "while False:\n    import fundiff.m8\n"
        "match x:\n    case 1:\n        import fundiff.m9\n"
        "'''from fundiff import not_a_module'''\n"
    )
    found = imported_modules(tmp_path / "script.py", src)
    assert found == {f"fundiff.{n}" for n in names}
