"""The writeup's sections: the one registry that rules, scripts, the evaluator and the report ask.

Each section is one record in ``sections.yaml`` beside this file (page order): its id (``A1.7.2``),
title, text and formulas. Torch-free: the workflow reads it while parsing the Snakefile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SECTIONS_YAML = Path(__file__).with_name("sections.yaml")


@dataclass(frozen=True)
class Section:
    id: str  # "A1.7.2": part letter + the spec's section number
    part: str  # "A", "B" or "C"
    title: str  # the heading ("1.7.2 Inpainting")
    text: str = ""  # the writeup's prose (inline TeX as $...$)
    formulas: tuple[str, ...] = field(default_factory=tuple)  # display TeX
    figures: bool = True  # False: text only, no rule writes a table for it


@dataclass(frozen=True)
class Part:
    id: str
    title: str
    intro: str
    sections: tuple[Section, ...]


@functools.cache
def _raw_parts() -> list[dict]:
    """sections.yaml's parts as parsed (once; libyaml's loader when available). Read-only."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SECTIONS_YAML.read_text(encoding="utf-8"), Loader=loader)["parts"]


@functools.cache
def parts() -> tuple[Part, ...]:
    """Every part with its sections, in page order."""
    raw = _raw_parts()
    out = []
    for p in raw:
        secs = tuple(
            Section(
                id=s["id"],
                part=p["id"],
                title=s["title"],
                text=s.get("text", ""),
                formulas=tuple(s.get("formulas", ())),
                figures=s.get("figures", True),
            )
            for s in p["sections"]
        )
        out.append(Part(p["id"], p["title"], p.get("intro", ""), secs))
    return tuple(out)


@functools.cache
def registry() -> dict[str, Section]:
    """id -> section, in page order."""
    return {s.id: s for p in parts() for s in p.sections}


def section(section_id: str) -> Section:
    try:
        return registry()[section_id]
    except KeyError:
        raise ValueError(
            f"unknown writeup section {section_id!r}; known: {', '.join(registry())}"
        ) from None


# id -> title of every section that has figures (what a table spec may name)
SECTIONS = {s.id: s.title for s in registry().values() if s.figures}


@functools.cache
def _figure_index() -> dict[tuple[str, str | None], str]:
    """(figure kind, model or None) -> section id, from the ``shows`` (+ ``model``) fields."""
    out: dict[tuple[str, str | None], str] = {}
    for p in _raw_parts():
        for s in p["sections"]:
            for kind in s.get("shows", ()):
                key = (kind, s.get("model"))
                if key in out:
                    raise ValueError(f"sections {out[key]} and {s['id']} both show {key}")
                out[key] = s["id"]
    return out


def figure_section(kind: str, model: str | None = None) -> str:
    """The id of the section that shows figures of ``kind`` ("loss", "samples", ...) of ``model``
    (a section without ``model`` shows that kind for every model), e.g. ("loss", "time_cond")
    -> "B2.2": the rules ask this instead of spelling section ids."""
    index = _figure_index()
    for key in ((kind, model), (kind, None)):
        if key in index:
            return index[key]
    raise ValueError(f"no writeup section shows {kind!r} figures of model {model!r}")


def report_subcategory(section_id: str) -> str:
    """A section as a Snakemake report subcategory: its id and title, the number once ('B2.3
    Sampling ...' from "2.3 Sampling ...", 'A0 Part 0: ...'); sorts by part, then by number."""
    s = section(section_id)
    number = s.id.removeprefix(s.part)
    if s.title.startswith(f"{number} "):
        return f"{s.part}{s.title}"
    return f"{s.id} {s.title}"


@functools.cache
def _entries() -> dict[str, dict]:
    """id -> the section's raw sections.yaml entry (fields the Section record does not carry)."""
    return {s["id"]: s for p in _raw_parts() for s in p["sections"]}


def table_title(section_id: str, table: str = "table", **values) -> str:
    """The title of one of a section's tables: its ``table_titles`` entry in sections.yaml
    (``table``: the table file's stem), with the ``{name}`` fields filled from ``values``."""
    titles = _entries()[section(section_id).id].get("table_titles", {})
    if table not in titles:
        raise ValueError(f"section {section_id} has no table {table!r} (sections.yaml)")
    return titles[table].format(**values)


def variant_words(section_id: str, value: str) -> str:
    """How a section's text names one of its variants (``variants: {VALUE: {words}}``), e.g.
    A1.8's view ``rotate180`` -> "turned 180°"."""
    return _entries()[section(section_id).id]["variants"][value]["words"]
