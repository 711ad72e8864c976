"""Part A's files, tables and rule params, from the validated config: one record per section.

The workflow (rules/common.smk, rules/parta.smk) declares what the scripts write by asking this
module, and the scripts name what they write by asking it too, so a cell's name is spelled once.
Torch-free: the Snakefile reads it while parsing.

* section ids and folders  ``A1.7.2`` <-> ``results/parta/a1_7_2`` (:data:`RECORDS`)
* cells                    image files of a section (or of one part), relative names
                           (``digit_a/i_start_3``) or workdir paths (``.png``)
* parts                    sections made by one rule per step count / image / prompt pair
                           (``parts_keys``), merged by the ``parta_table`` rule
* tables                   each section's title (``sections.yaml``: ``table_titles``), columns and
                           the params its table shows
* timesteps / frames       the strided list every loop walks and the A1.4 frames
                           (:mod:`fundiff.diffusion.timesteps`, the loop's own rule)

Functions take the whole validated config (``fundiff.config.validate``: defaults filled in);
everything returned is plain builtins (Snakemake compares params by value).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

from fundiff.diffusion.timesteps import frame_steps, strided_timesteps
from fundiff.report.sections import table_title, variant_words

PA_DIR = "results/parta"

# ------------------------------------------------------------------ cell names
# Relative to the section folder, without ".png"; the script's Table.cell(name) writes
# <folder>/<name>.png and the arrays <array_key(name)> (uint8) and <array_key(name)>_float.
ORIGINAL = "original"
FINAL = "iter_final"  # A1.4: the last step of iterative denoising
COMPARE = ("original", "noisy", "blur", "one_step", "iterative")  # A1.4's comparison row
INPAINT = ("original", "mask", "to_replace", "inpainted")  # A1.7.2, per image


def a0_cell(steps, k: int, stage2: bool = False) -> str:
    return f"steps_{steps}/{'stage2' if stage2 else 'prompt'}_{k}"


def noisy_cell(t) -> str:
    return f"noisy_t{t}"


def denoised_cell(method: str, t) -> str:
    """A1.2 (``blur``) / A1.3 (``one_step``) result at t."""
    return f"{method}_t{t}"


def frame_cell(t) -> str:
    return f"iter_t{t}"


def sample_cell(k: int) -> str:
    return f"sample_{k}"


def sdedit_cell(image: str, i_start) -> str:
    return f"{image}/i_start_{i_start}"


def image_cell(image: str, name: str) -> str:
    """A cell of one image's row: ``original`` or one of :data:`INPAINT`."""
    return f"{image}/{name}"


def pair_cell(pair: str) -> str:
    """A1.8 / A1.9: one image per prompt pair (an anagram's two views are the same image)."""
    return pair


def array_key(cell: str, raw: bool = True) -> str:
    """The key of a cell's array in its table's .npz: ``<image>__<name>[_float]`` (``raw``: the
    float32 array before clipping, else the uint8 image)."""
    return cell.replace("/", "__") + ("_float" if raw else "")


_SDEDIT_KEY = re.compile(r"^(?P<image>.+)__i_start_(?P<i>\d+)_float$")


def parse_sdedit_key(key: str) -> tuple[str, int] | None:
    """(image, i_start) of an SDEdit result's raw array key, the inverse of
    ``array_key(sdedit_cell(image, i_start))``; None for any other key."""
    m = _SDEDIT_KEY.match(key)
    return (m["image"], int(m["i"])) if m else None


# ------------------------------------------------------------------ timesteps, views, prompts


def timesteps(config: dict) -> list[int]:
    """The strided timesteps every Part A loop walks (parta.timesteps: start, stride)."""
    ts = config["parta"]["timesteps"]
    return strided_timesteps(ts["start"], ts["stride"])


def frame_ts(config: dict) -> list[int]:
    """The timesteps whose frames A1.4 shows: i_start, then every frame_every-th step."""
    ts, it = timesteps(config), config["parta"]["iterative"]
    i0 = it["i_start"]
    return [ts[i0 + j] for j in frame_steps(len(ts) - i0, it["frame_every"])]


def view_words(config: dict) -> str:
    """How A1.8's title and column name the anagram's second view (parta.anagrams.view)."""
    return variant_words("A1.8", config["parta"]["anagrams"]["view"])


def prompts(config: dict) -> list[str]:
    """Every prompt the configuration uses (the encode_prompts cache), sorted; with the
    beyond-the-spec items X3 (its own prompt pairs) and X5 (the logo prompts) when enabled."""
    pa = config["parta"]
    out = {"", pa["null_prompt"], pa["sdedit"]["text"]["prompt"]}
    out |= set(pa["a0"]["prompts"]) | set(pa["sample"]["prompts"]) | set(pa["cfg"]["prompts"])
    for kind in ("anagrams", "hybrids"):
        for pair in pa[kind]["pairs"]:
            out |= set(pair["prompts"])
    beyond = config.get("beyond", {})  # X3's own pairs and X5's logo prompts, when on
    views, logo = beyond.get("views", {}), beyond.get("logo", {})
    if views.get("enabled") and views.get("pairs"):
        out |= {q for pair in views["pairs"] for q in pair["prompts"]}
    if logo.get("enabled") and pa["backend"]["name"] != "mnist":
        out |= set(logo["prompts"])
    return sorted(out)


# ------------------------------------------------------------------ per-section records


def _forward_cells(config: dict, key: str, method: str | None = None) -> list[str]:
    ts = config["parta"]["forward"]["t"]
    out = [ORIGINAL] + [noisy_cell(t) for t in ts]
    return out + ([denoised_cell(method, t) for t in ts] if method else [])


def _a0_cells(config: dict, key: str) -> list[str]:
    n = range(len(config["parta"]["a0"]["prompts"]))
    out = [a0_cell(key, k) for k in n]
    if config["parta"]["backend"]["name"] == "deepfloyd":
        out += [a0_cell(key, k, stage2=True) for k in n]
    return out


def _a1_4_cells(config: dict, key: str) -> list[str]:
    return [frame_cell(t) for t in frame_ts(config)] + [FINAL, *COMPARE]


def _sample_cells(kind: str) -> Callable[[dict, str], list[str]]:
    return lambda config, key: [sample_cell(k) for k in range(config["parta"][kind]["num"])]


def _sdedit_cells(config: dict, key: str) -> list[str]:
    cells = [sdedit_cell(key, i) for i in config["parta"]["sdedit"]["i_start"]]
    return cells + [image_cell(key, ORIGINAL)]


def _inpaint_cells(config: dict, key: str) -> list[str]:
    return [image_cell(key, c) for c in INPAINT]


def _pairs(kind: str) -> Callable[[dict], list[str]]:
    return lambda config: [p["name"] for p in config["parta"][kind]["pairs"]]


def _sdedit_images(option: str) -> Callable[[dict], list[str]]:
    def images(config: dict) -> list[str]:
        sd = config["parta"]["sdedit"]
        return list(sd["text"]["images"] if option == "text" else sd[option])

    return images


def _sdedit_columns(config: dict) -> list[str]:
    return [f"i_start = {i}" for i in config["parta"]["sdedit"]["i_start"]] + ["original"]


def _a0_params(config: dict, rec: Record) -> dict:
    pa = config["parta"]
    if pa["backend"]["name"] == "deepfloyd":
        stage1 = "IFPipeline (the spec's call)"
        stage2 = f"IFSuperResolutionPipeline, {pa['a0']['stage2_steps']} steps"
    else:
        stage1 = "our CFG loop: N model calls, the last at t = 0"
        stage2 = "none: the mnist backend has no stage II"
    return {
        "prompts": list(pa["a0"]["prompts"]),
        "steps": list(pa["a0"]["steps"]),
        "stage1": stage1,
        "stage2": stage2,
    }


def _sdedit_params(config: dict, rec: Record) -> dict:
    ts, i_start = timesteps(config), list(config["parta"]["sdedit"]["i_start"])
    return {
        "i_start": i_start,
        "t": [ts[i] for i in i_start],
        "images": rec.keys(config),
        "prompt": sdedit_prompt(config, rec.folder),
    }


def _inpaint_params(config: dict, rec: Record) -> dict:
    pa = config["parta"]
    return {"masks": [dict(s) for s in pa["inpaint"]], "prompt": pa["null_prompt"]}


def anagrams(config: dict) -> dict:
    """A1.8's prompt pairs and view (its table's params; the success-rate rule's too)."""
    a = config["parta"]["anagrams"]
    return {"pairs": [dict(p) for p in a["pairs"]], "view": a["view"]}


def _hybrid_params(config: dict, rec: Record) -> dict:
    h = config["parta"]["hybrids"]
    return {
        "pairs": [dict(p) for p in h["pairs"]],
        "kernel_size": h["kernel_size"],
        "sigma": h["sigma"],
    }


@dataclass(frozen=True)
class Record:
    """One Part A section's layout. ``keys`` (parted sections only): the wildcard values of its
    parts (one rule each); ``cells(config, key)``: its cell names (``key``: the part);
    ``columns`` / ``params``: the merged table's header and shown params (parted sections; the
    single-rule sections' scripts write their own)."""

    id: str
    folder: str
    cells: Callable[[dict, str], list[str]]
    keys: Callable[[dict], list[str]] | None = None
    columns: Callable[[dict], list[str]] | None = None
    params: Callable[[dict, Record], dict] | None = None
    tables: tuple[str, ...] = ("table",)

    @property
    def parted(self) -> bool:
        return self.keys is not None


_SDEDIT = dict(cells=_sdedit_cells, columns=_sdedit_columns, params=_sdedit_params)
RECORDS: dict[str, Record] = {
    r.folder: r
    for r in (
        Record(
            "A0",
            "a0",
            _a0_cells,
            keys=lambda config: [str(s) for s in config["parta"]["a0"]["steps"]],
            columns=lambda config: list(config["parta"]["a0"]["prompts"]),
            params=_a0_params,
        ),
        Record("A1.1", "a1_1", _forward_cells),
        Record("A1.2", "a1_2", lambda config, key: _forward_cells(config, key, "blur")),
        Record("A1.3", "a1_3", lambda config, key: _forward_cells(config, key, "one_step")),
        Record("A1.4", "a1_4", _a1_4_cells, tables=("iterative", "compare")),
        Record("A1.5", "a1_5", _sample_cells("sample")),
        Record("A1.6", "a1_6", _sample_cells("cfg")),
        Record("A1.7", "a1_7", keys=_sdedit_images("images"), **_SDEDIT),
        Record("A1.7.1", "a1_7_1", keys=_sdedit_images("edit_images"), **_SDEDIT),
        Record("A1.7.3", "a1_7_3", keys=_sdedit_images("text"), **_SDEDIT),
        Record(
            "A1.7.2",
            "a1_7_2",
            _inpaint_cells,
            keys=lambda config: [s["image"] for s in config["parta"]["inpaint"]],
            columns=lambda config: [c.replace("_", " ") for c in INPAINT],
            params=_inpaint_params,
        ),
        Record(
            "A1.8",
            "a1_8",
            lambda config, key: [pair_cell(key)],
            keys=_pairs("anagrams"),
            columns=lambda config: ["prompt 1 (upright)", f"prompt 2 ({view_words(config)})"],
            params=lambda config, rec: anagrams(config),
        ),
        Record(
            "A1.9",
            "a1_9",
            lambda config, key: [pair_cell(key)],
            keys=_pairs("hybrids"),
            columns=lambda config: ["hybrid"],
            params=_hybrid_params,
        ),
    )
}
SDEDIT = ("a1_7", "a1_7_1", "a1_7_3")  # folders of the sections the parta_sdedit rule makes
PARTED = tuple(f for f, r in RECORDS.items() if r.parted)  # folders merged by parta_table
PAIRS = ("a1_8", "a1_9")  # folders of the parta_pair rule's sections


def record(folder: str) -> Record:
    try:
        return RECORDS[folder]
    except KeyError:
        raise ValueError(f"no Part A section in {folder!r}; known: {', '.join(RECORDS)}") from None


# ------------------------------------------------------------------ what rules declare


def parts_keys(config: dict, folder: str) -> list[str]:
    """Wildcard values of a parted section: step counts, image names or pair names."""
    return record(folder).keys(config)


def cells(config: dict, folder: str, key: str = "{key}", under: str | None = None) -> list[str]:
    """Workdir paths of the image cells of one part (``key``: step count / image / pair) or of a
    single-rule section; ``under``: the folder to put them in instead (a wildcard pattern such
    as ``{sdir}`` for a rule shared by sections with the same cells)."""
    d = f"{PA_DIR}/{under or folder}"
    return [f"{d}/{c}.png" for c in record(folder).cells(config, key)]


def part_paths(config: dict, folder: str) -> list[str]:
    """The part files (JSON rows) the parta_table rule merges, in config order."""
    return [f"{PA_DIR}/{folder}/parts/{k}.json" for k in parts_keys(config, folder)]


def title(config: dict, folder: str, table: str = "table") -> str:
    """The title of one of a section's tables (sections.yaml ``table_titles``; ``table``: the
    JSON file's stem), its fields filled from the config: A1.4's i_start, t and frame step,
    A1.6's guidance scale, A1.8's view. A rule param, so that editing it remakes the table."""
    pa = config["parta"]
    ts, it = timesteps(config), pa["iterative"]
    values = {
        "i_start": it["i_start"],
        "t": ts[it["i_start"]] if it["i_start"] < len(ts) else None,
        "every": it["frame_every"],
        "guidance_scale": pa["guidance_scale"],
        "view_words": view_words(config),
    }
    return table_title(record(folder).id, table, **values)


def eval_title(config: dict, name: str) -> str:
    """The title of the table of Part A metric rule ``name`` (section A2; a rule param)."""
    return table_title("A2", f"parta_{name}")


def columns(config: dict, folder: str) -> list[str]:
    """The column headers of a parted section's merged table."""
    return record(folder).columns(config)


def table_params(config: dict, folder: str) -> dict:
    """The values a parted section's merged table was made with (shown by the report)."""
    rec = record(folder)
    pa = config["parta"]
    out = {"backend": pa["backend"]["name"], "seed": config["seed"]}
    out["guidance_scale"] = pa["guidance_scale"]
    if folder != "a0":
        out["timesteps"] = timesteps(config)
    return {**out, **rec.params(config, rec)}


def sdedit_prompt(config: dict, folder: str) -> str:
    """A1.7.3 edits towards its own prompt; A1.7 / A1.7.1 use the null prompt."""
    pa = config["parta"]
    return pa["sdedit"]["text"]["prompt"] if folder == "a1_7_3" else pa["null_prompt"]


def tables(config: dict) -> list[str]:
    """Every Part A table spec (JSON; each has a sibling .npz with the raw arrays), sorted."""
    return sorted(f"{PA_DIR}/{r.folder}/{t}.json" for r in RECORDS.values() for t in r.tables)


def figures(config: dict) -> list[str]:
    """Every Part A image cell the configuration asks for, sorted."""
    out = set()
    for folder, rec in RECORDS.items():
        for key in rec.keys(config) if rec.parted else ["{key}"]:
            out |= set(cells(config, folder, key))
    return sorted(out)


# ------------------------------------------------------------------ rule params


def image_path(image: str) -> str:
    """The PNG the parta_image rule makes of a configured image."""
    return f"results/images/{image}.png"


def image_record(image: str) -> str:
    """The JSON beside the image's PNG: its source and the sha256 of what the rule read
    (fundiff.parta.images.source_record), shown in the report's provenance."""
    return f"results/images/{image}.json"


def used_images(config: dict) -> list[str]:
    """The configured images some Part A section or metric reads, in config order (an image
    configured but never used is never fetched)."""
    pa = config["parta"]
    sd = pa["sdedit"]
    used = {pa["forward"]["image"], *sd["images"], *sd["edit_images"], *sd["text"]["images"]}
    used |= {s["image"] for s in pa["inpaint"]}
    if pa["backend"]["name"] != "mnist":  # the mnist metrics read held-out digits instead
        used |= set(eval_images(config))
    return [name for name in pa["images"] if name in used]


def image_records(config: dict) -> list[str]:
    """The provenance records of every image the build reads (the report's inputs)."""
    return [image_record(name) for name in used_images(config)]


def image_inputs(config: dict, image: str, mask: bool = True) -> dict:
    """The files a rule that edits ``image`` reads besides the model: the image's PNG and, with
    ``mask``, the inpainting mask image when one is configured for it."""
    path = inpaint_spec(config, image).get("mask") if mask else None
    return {"image": image_path(image), **({"mask": path} if path else {})}


def eval_denoise_inputs(config: dict) -> dict:
    """The clean images of the denoising metrics: the MNIST cache (held-out digits) or the
    configured images' PNGs."""
    if config["parta"]["backend"]["name"] == "mnist":
        return {"mnist": "results/data/mnist.pt"}
    return {"images": [image_path(n) for n in eval_images(config)]}


def source_inputs(config: dict, image: str) -> dict:
    """What an image source needs locally: the repo file, or the MNIST cache."""
    kind, _, rest = config["parta"]["images"][image]["source"].partition(":")
    return {"file": {"file": rest}, "mnist": {"mnist": "results/data/mnist.pt"}}.get(kind, {})


def pair_params(config: dict, folder: str, pair: str) -> dict:
    """A1.8 anagram / A1.9 hybrid of one prompt pair: kind, prompts, the anagram's view (None
    for hybrids) and the hybrid's low-pass filter."""
    pa, anagram = config["parta"], folder == "a1_8"
    pairs = pa["anagrams" if anagram else "hybrids"]["pairs"]
    return {
        "kind": "anagram" if anagram else "hybrid",
        "prompts": next(list(p["prompts"]) for p in pairs if p["name"] == pair),
        "view": pa["anagrams"]["view"] if anagram else None,
        "hybrid": {"kernel_size": pa["hybrids"]["kernel_size"], "sigma": pa["hybrids"]["sigma"]},
    }


def backend(config: dict) -> dict:
    """Backend config for the scripts (plain dict); mnist adds its final-epoch checkpoint,
    deepfloyd the manifest of the fetched models (loaded from there, never re-resolved)."""
    out = dict(config["parta"]["backend"])
    if out["name"] == "mnist":
        epochs = config["partb"]["class_cond"]["epochs"]
        out["checkpoint"] = f"results/partb/class_cond/epochs/epoch_{epochs:03d}.pt"
    elif out["name"] == "deepfloyd":
        out["models"] = f"{PA_DIR}/models.json"  # the fetch_models rule's manifest
    return out


def model_params(config: dict, guidance: bool = True, upscale: bool = True) -> dict:
    """Params shared by every Part A model rule (plain builtins). ``guidance=False`` for the
    rules without classifier-free guidance, so that editing parta.guidance_scale does not rerun
    them; ``upscale=False`` for the metric rules (they save no cells)."""
    pa = config["parta"]
    out = {
        "backend": backend(config),
        "device": config["device"],
        "seed": config["seed"],
        "timesteps": timesteps(config),
        "null_prompt": pa["null_prompt"],
    }
    if upscale:
        out["upscale"] = pa["upscale"]
    if guidance:
        out["guidance_scale"] = pa["guidance_scale"]
    return out


def invert(config: dict, image: str):
    """How a 1-channel model inverts the configured image (auto | true | false). Not a schema
    default: the image rule's params are the image's config as written."""
    return config["parta"]["images"][image].get("invert", "auto")


def resize(config: dict, image: str) -> str:
    """How the configured image becomes the model's square: crop (the schema default) or
    squash (fundiff.parta.images.prepare)."""
    return config["parta"]["images"][image]["resize"]


def forward_image(config: dict) -> dict:
    """Params of A1.1 - A1.4's test image: its name, how it is inverted and resized."""
    name = config["parta"]["forward"]["image"]
    return {"image_name": name, "invert": invert(config, name), "resize": resize(config, name)}


def inpaint_spec(config: dict, image: str) -> dict:
    """The configured mask of one inpainted image ({} when the image is not inpainted)."""
    return next((dict(s) for s in config["parta"]["inpaint"] if s["image"] == image), {})


def eval_images(config: dict) -> list[str]:
    """deepfloyd: the images the denoising metrics average over (configured or default)."""
    pa = config["parta"]
    names = config["eval"]["parta"]["images"] or [pa["forward"]["image"], *pa["sdedit"]["images"]]
    return list(dict.fromkeys(names))


def eval_source(config: dict) -> dict:
    """Where the clean images of the denoising metrics come from (a rule param)."""
    if config["parta"]["backend"]["name"] == "mnist":
        return {"kind": "mnist", "digits": config["eval"]["parta"]["digits"]}
    names = eval_images(config)
    return {
        "kind": "images",
        "names": names,
        "invert": [invert(config, n) for n in names],
        "resize": [resize(config, n) for n in names],
    }


def has_illusions(config: dict) -> bool:
    """Anagram / hybrid success rates need the digit classifier: mnist backend only."""
    return config["parta"]["backend"]["name"] == "mnist"


def eval_names(config: dict) -> list[str]:
    """The Part A metric rules' names (results/eval/parta_<name>.*)."""
    return ["denoise", "sdedit", "inpaint"] + (["illusions"] if has_illusions(config) else [])


def eval_files(config: dict, ext: str) -> list[str]:
    """One file per Part A metric rule: ``json`` (table specs, section A2), ``png`` (plots),
    ``csv``, or ``tsv`` (their benchmark: files)."""
    if ext == "tsv":
        return [f"benchmarks/rules/eval_parta_{k}.tsv" for k in eval_names(config)]
    return [f"results/eval/parta_{k}.{ext}" for k in eval_names(config)]


# ------------------------------------------------------------------ Snakemake report labels
# `snakemake --report` shows a section's cells as one table whose columns are the cells' labels
# (rules/report_inputs.smk flags every cell); a cell's labels must differ from every other
# cell's of its section, or the report shows only one of them. Values are strings.


def _a0_labels(config: dict, key: str) -> list[dict]:
    n = list(enumerate(config["parta"]["a0"]["prompts"], 1))
    out = [{"steps": key, "prompt": f"{k}: {q}"} for k, q in n]  # numbered: prompts may repeat
    if config["parta"]["backend"]["name"] == "deepfloyd":
        out = [{**d, "stage": "I"} for d in out]
        out += [{"steps": key, "prompt": f"{k}: {q}", "stage": "II"} for k, q in n]
    return out


def _forward_labels(config: dict, key: str, method: str | None = None) -> list[dict]:
    image, ts = config["parta"]["forward"]["image"], config["parta"]["forward"]["t"]
    out = [{"image": image, "kind": ORIGINAL, "t": "0"}]  # the clean image x_0
    out += [{"image": image, "kind": "noisy", "t": str(t)} for t in ts]
    return out + ([{"image": image, "kind": method, "t": str(t)} for t in ts] if method else [])


def _a1_4_labels(config: dict, key: str) -> list[dict]:
    image = config["parta"]["forward"]["image"]
    frames = [f"t = {t}" for t in frame_ts(config)] + ["final"]
    out = [{"image": image, "table": "iterative", "column": c} for c in frames]
    return out + [{"image": image, "table": "compare", "column": c} for c in COMPARE]


def _sample_labels(kind: str) -> Callable[[dict, str], list[dict]]:
    def labels(config: dict, key: str) -> list[dict]:
        s = config["parta"][kind]
        prompts = [s["prompts"][k % len(s["prompts"])] for k in range(s["num"])]
        return [{"sample": str(k), "prompt": q} for k, q in enumerate(prompts, 1)]

    return labels


def _sdedit_labels(config: dict, key: str) -> list[dict]:
    ts, i_start = timesteps(config), config["parta"]["sdedit"]["i_start"]
    out = [{"image": key, "i_start": str(i), "t": str(ts[i])} for i in i_start]
    return out + [{"image": key, "i_start": ORIGINAL, "t": "0"}]


def _inpaint_labels(config: dict, key: str) -> list[dict]:
    return [{"image": key, "cell": c.replace("_", " ")} for c in INPAINT]


def _pair_labels(kind: str) -> Callable[[dict, str], list[dict]]:
    def labels(config: dict, key: str) -> list[dict]:
        pair = next(p for p in config["parta"][kind]["pairs"] if p["name"] == key)
        p1, p2 = pair["prompts"]
        return [{"pair": key, "prompt 1": p1, "prompt 2": p2}]

    return labels


_LABELS: dict[str, Callable[[dict, str], list[dict]]] = {
    "a0": _a0_labels,
    "a1_1": _forward_labels,
    "a1_2": lambda config, key: _forward_labels(config, key, "blur"),
    "a1_3": lambda config, key: _forward_labels(config, key, "one_step"),
    "a1_4": _a1_4_labels,
    "a1_5": _sample_labels("sample"),
    "a1_6": _sample_labels("cfg"),
    "a1_7": _sdedit_labels,
    "a1_7_1": _sdedit_labels,
    "a1_7_3": _sdedit_labels,
    "a1_7_2": _inpaint_labels,
    "a1_8": _pair_labels("anagrams"),
    "a1_9": _pair_labels("hybrids"),
}


def cell_labels(config: dict, folder: str, key: str = "{key}") -> dict[str, dict[str, str]]:
    """Each image cell of one part (``key``: step count / image / pair; a real value, not a
    wildcard pattern) or of a single-rule section -> the labels that identify it in
    ``snakemake --report``: what its row and column in the writeup's table stand for (steps and
    prompt, image and t, i_start, pair and prompts, ...), the same label names for every cell
    of a section. In the order of :func:`cells`."""
    names = record(folder).cells(config, key)
    labels = _LABELS[folder](config, key)
    if len(labels) != len(names):  # a section whose cells changed without its labels
        raise ValueError(f"{folder}: {len(names)} cells but {len(labels)} label sets")
    return dict(zip(names, labels, strict=True))


class PartA:
    """This module's functions with one config filled in: ``PartA(config).cells("a0", "20")`` is
    ``cells(config, "a0", "20")`` (what the rule files call; every function whose first
    argument is ``config``)."""

    def __init__(self, config: dict):
        self.config = config

    def __getattr__(self, name: str) -> Callable:
        f = globals().get(name)
        if not callable(f) or next(iter(inspect.signature(f).parameters), None) != "config":
            raise AttributeError(f"fundiff.parta.layout has no function {name}(config, ...)")
        return functools.partial(f, self.config)
