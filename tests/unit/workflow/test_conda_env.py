"""envs/fundiff.yaml, the conda env of every rule (--sdm conda): the tested pins, and nothing that
breaks when Snakemake builds it from its copy under .snakemake/conda/ (no paths, no -r/-e)."""

from __future__ import annotations

import json
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.helpers.workflow import REPO, run_snakemake

ENV_FILE = REPO / "envs" / "fundiff.yaml"


def _env() -> dict:
    return yaml.safe_load(ENV_FILE.read_text())


def _conda_deps() -> list[str]:
    return [d for d in _env()["dependencies"] if isinstance(d, str)]


def _pip_deps() -> list[str]:
    (pip,) = [d["pip"] for d in _env()["dependencies"] if isinstance(d, dict)]
    return pip


def _pins(lines: list[str], where: str) -> dict[str, str]:
    """{normalised name: version} of ``name==version`` lines; anything else fails."""
    pins = {}
    for line in lines:
        req = Requirement(line)
        specs = list(req.specifier)
        exact = len(specs) == 1 and specs[0].operator == "==" and not req.url
        assert exact, f"{where}: not an exact pin: {line!r}"
        name = canonicalize_name(req.name)
        assert name not in pins, f"{where}: {req.name} pinned twice"
        pins[name] = specs[0].version
    return pins


def _requirements() -> list[str]:
    text = (REPO / "requirements.txt").read_text()
    return [x.split("#", 1)[0].strip() for x in text.splitlines() if x.split("#", 1)[0].strip()]


def test_env_pins_equal_requirements_txt():
    env = _pins(_pip_deps(), "envs/fundiff.yaml")
    req = _pins(_requirements(), "requirements.txt")
    assert env == req, {
        "only in envs/fundiff.yaml": sorted(env.keys() - req.keys()),
        "only in requirements.txt": sorted(req.keys() - env.keys()),
        "different versions": {
            n: (env[n], req[n]) for n in env.keys() & req.keys() if env[n] != req[n]
        },
    }


def test_env_python_satisfies_requires_python():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    (python,) = [d for d in _conda_deps() if d.split()[0] == "python"]
    version = python.split(None, 1)[1].lstrip("=").strip()  # conda's "python =3.11"
    assert version.count(".") == 1, f"pin one minor version, not {python!r}"
    assert version in requires, f"{python!r} outside requires-python {requires}"


def test_env_is_self_contained():
    """Snakemake builds the env from a copy of the file elsewhere: a relative or local path, an
    editable install or a -r include would point at the wrong place (or nowhere)."""
    assert _env()["channels"] == ["conda-forge", "nodefaults"]
    for entry in [*_conda_deps(), *_pip_deps()]:
        assert not entry.startswith(("-", ".", "/", "~")), f"option or path: {entry!r}"
        assert not any(s in entry for s in ("://", "file:", "/", "\\")), f"path/URL: {entry!r}"
    for entry in _pip_deps():
        assert Requirement(entry).url is None, f"direct reference: {entry!r}"


def test_every_rule_that_runs_something_uses_the_env(tmp_path):
    """Asked of Snakemake itself (the parsed workflow), not of the rule files' text."""
    for name in (
        "Snakefile",
        "rules",
        "schemas",
        "configs",
        "config.yaml",
        "src",
        "scripts",
        "envs",
    ):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "check.smk").write_text(
        'include: "Snakefile"\n'
        "import json as _json\n"
        "from pathlib import Path as _Path\n"
        "print('RULES', _json.dumps({r.name: [r.norun, r.conda_env and str("
        "(_Path(r.snakefile).parent / r.conda_env).resolve())] for r in workflow.rules}))\n"
    )
    out = run_snakemake(tmp_path, "-s", "check.smk", "--list-rules", timeout=300)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RULES "))
    rules = json.loads(line.removeprefix("RULES "))
    acting = {name: env for name, (norun, env) in rules.items() if not norun}
    assert {"train", "report", "parta_sample"} <= acting.keys(), sorted(rules)
    wrong = {name: env for name, env in acting.items() if env != str(ENV_FILE.resolve())}
    assert not wrong, f"rules not declaring conda: {ENV_FILE}: {wrong}"
