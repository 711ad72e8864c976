"""Library inputs of a rule, computed instead of listed: the ``fundiff`` modules its script
imports, directly or through other modules (the transitive closure of an ``ast`` walk).

Snakemake reruns a job when one of its input files changes, but it tracks only the script file
itself. A rule therefore declares ``lib=script_lib("name")``: every library file its script can
execute. The walk sees every ``import`` statement, also those inside functions (a lazy import
still runs), and adds each imported module's package ``__init__.py`` (importing a submodule runs
them). A module loaded by name at run time (a Part A backend: ``importlib`` from the config) is
invisible to the walk and is added by the rule as a *plugin*.

Torch-free and cached: the workflow calls it while parsing the Snakefile.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "fundiff"


@functools.cache
def _module_file(src: Path, dotted: str) -> Path | None:
    """The file of a ``fundiff`` module (``pkg/__init__.py`` for a package), or None."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    base = src.joinpath(*parts)
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _statements(body: list):
    """Every statement in ``body``, nested ones included (an import is always a statement, so
    expressions need not be visited: far fewer nodes than ``ast.walk``)."""
    for node in body:
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def _dotted(src: Path, file: Path) -> str:
    rel = file.relative_to(src).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_modules(file: Path, src: Path) -> set[str]:
    """Dotted ``fundiff`` modules one file imports (anywhere in it), relative imports resolved.
    ``from fundiff.x import y`` counts ``fundiff.x.y`` when y is a module, else ``fundiff.x``."""
    return set(_imported_modules(Path(file), Path(src)))


@functools.cache
def _imported_modules(file: Path, src: Path) -> frozenset[str]:
    """:func:`imported_modules`, parsed once per file per process (the closures of ~30 scripts
    share most modules)."""
    tree = ast.parse(Path(file).read_text(), filename=str(file))
    here = _dotted(src, file) if Path(file).is_relative_to(src) else ""
    is_pkg = Path(file).name == "__init__.py"
    out = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                pkg = here.split(".") if is_pkg else here.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if _module_file(src, sub) else base)
    return frozenset(m for m in out if m.split(".")[0] == PACKAGE and _module_file(src, m))


def _with_packages(dotted: str) -> list[str]:
    """A module and every package above it (their ``__init__`` runs on import)."""
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.cache
def closure(entry: Path, src: Path) -> tuple[Path, ...]:
    """Every library file that running ``entry`` (a script or a module) can execute, sorted."""
    seen: set[str] = set()
    todo = [m for m in imported_modules(entry, src)]
    while todo:
        for m in _with_packages(todo.pop()):
            if m not in seen and _module_file(src, m):
                seen.add(m)
                todo += imported_modules(_module_file(src, m), src)
    return tuple(sorted(_module_file(src, m) for m in seen))


def module_closure(dotted: str, src: Path) -> tuple[Path, ...]:
    """The files of one module (a run-time plugin) with everything it imports."""
    file = _module_file(src, dotted)
    if file is None:
        raise ValueError(f"no module {dotted!r} under {src}")
    own = tuple(_module_file(src, m) for m in _with_packages(dotted) if _module_file(src, m))
    return tuple(sorted(set(own) | set(closure(file, src))))
