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


def _match(rule: str, blocks: dict, pattern: re.Pattern) -> re.Match | None:
    """``pattern`` in the rule's text, else in the rule it is derived from (``use rule``)."""
    parent, body = blocks[rule]
    m = pattern.search(body)
    return _match(parent, blocks, pattern) if m is None and parent else m


def _field(rule: str, blocks: dict, pattern: re.Pattern) -> str | None:
    m = _match(rule, blocks, pattern)
    return m.group(1) if m else None


def rule_scripts(repo: Path = REPO) -> dict[str, str]:
    """{rule: script name} for every rule that runs a script (inherited through ``use rule``)."""
    blocks = rule_blocks(repo)
    scripts = {r: _field(r, blocks, _SCRIPT) for r in blocks}
    return {r: s for r, s in scripts.items() if s}


def rule_libs(repo: Path = REPO) -> dict[str, str | None]:
    """{rule: the script named in its ``lib=script_lib(...)`` input} for every script rule."""
    blocks = rule_blocks(repo)
    return {r: _field(r, blocks, _LIB) for r in rule_scripts(repo)}


_BENCH = re.compile(r'benchmark:\s*\n\s*"benchmarks/rules/([^"]+)\.tsv"')
_SIZED = re.compile(r'\*\*sized\("(\w+)"(, gpu=True)?\)')


def benchmark_rules(repo: Path = REPO) -> list[tuple[re.Pattern, str, str, bool]]:
    """(pattern of the rule's benchmark file stem, rule, the rule its resources are sized as,
    whether they are the GPU-capable sizes), the most specific pattern first (the most literal
    characters: ``parta_image_{image}`` before ``parta_{sdir}_{image}``)."""
    blocks = rule_blocks(repo)
    out = []
    for rule in blocks:
        stem = _field(rule, blocks, _BENCH)
        sized = _match(rule, blocks, _SIZED)
        if stem is None or sized is None:
            continue
        literal = re.sub(r"\{\w+\}", "", stem)
        pattern = re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(stem)))
        out.append((len(literal), pattern, rule, sized.group(1), bool(sized.group(2))))
    out.sort(key=lambda t: -t[0])
    return [t[1:] for t in out]
