"""Which script each rule of the workflow runs, read from the rule files (an oracle for tests that
is independent of how the workflow computes its library inputs)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.workflow import REPO

_HEAD = re.compile(r"^(?:rule|checkpoint) (\w+):|^use rule (\w+) as (\w+)", re.M)
_SCRIPT = re.compile(r'"\.\./scripts/(\w+)\.py"')
_LIB = re.compile(r'lib=script_lib\("(\w+)"\)')


def rule_blocks(repo: Path = REPO) -> dict[str, tuple[str | None, str]]:
    """{rule: (the rule it is derived from by ``use rule``, or None; its text)}."""
    out = {}
    for smk in sorted((repo / "rules").glob("*.smk")):
        text = smk.read_text()
        heads = list(_HEAD.finditer(text))
        if not heads:
            continue
        for h, nxt in zip(heads, [*heads[1:], None], strict=True):
            body = text[h.end() : nxt.start() if nxt else len(text)]
            if h.group(1):
                out[h.group(1)] = (None, body)
            else:
                out[h.group(3)] = (h.group(2), body)
    return out


def _field(rule: str, blocks: dict, pattern: re.Pattern) -> str | None:
    parent, body = blocks[rule]
    m = pattern.search(body)
    if m:
        return m.group(1)
    return _field(parent, blocks, pattern) if parent else None


def rule_scripts(repo: Path = REPO) -> dict[str, str]:
    """{rule: script name} for every rule that runs a script (inherited through ``use rule``)."""
    blocks = rule_blocks(repo)
    scripts = {r: _field(r, blocks, _SCRIPT) for r in blocks}
    return {r: s for r, s in scripts.items() if s}


def rule_libs(repo: Path = REPO) -> dict[str, str | None]:
    """{rule: the script named in its ``lib=script_lib(...)`` input} for every script rule."""
    blocks = rule_blocks(repo)
    return {r: _field(r, blocks, _LIB) for r in rule_scripts(repo)}
