"""Files, titles and rule params of the Part A items beyond the spec (writeup X3 - X5).

Like :mod:`fundiff.parta.layout` (torch-free, read while parsing the workflow; everything
returned is plain builtins), for:

* X3 ``beyond.views``    anagrams under more views: one table per view (each pair's image and
                         the image seen through the view) and, on the mnist backend, the
                         success rates the digit classifier measures
* X4 ``beyond.repaint``  RePaint resampling vs the spec's one-pass inpainting of parta.inpaint
* X5 ``beyond.logo``     course-logo prompts through A0 (stage I + II), deepfloyd only
"""

from __future__ import annotations

from fundiff.parta import layout
from fundiff.report.sections import table_title

DIR = "results/beyond"
VIEWS_DIR = f"{DIR}/views"
REPAINT_DIR = f"{DIR}/repaint"
LOGO_DIR = f"{DIR}/logo"
REPAINT_CELLS = ("original", "to_replace", "one_pass", "repaint")  # per image, first sample
REPAINT_TIMING_PLOT = f"{REPAINT_DIR}/timing.png"  # the measured wall times (timing.json)
METHODS = ("one_pass", "repaint")


def _item(config: dict, name: str) -> dict:
    return config.get("beyond", {}).get(name, {})


def mnist(config: dict) -> bool:
    return config["parta"]["backend"]["name"] == "mnist"


# ------------------------------------------------------------------ X3: anagram views


def views_enabled(config: dict) -> bool:
    return bool(_item(config, "views").get("enabled"))


def view_names(config: dict) -> list[str]:
    return list(_item(config, "views")["views"])


def view_pairs(config: dict) -> list[dict]:
    """beyond.views.pairs, or A1.8's pairs (parta.anagrams.pairs) when null."""
    pairs = _item(config, "views").get("pairs") or config["parta"]["anagrams"]["pairs"]
    return [{"name": p["name"], "prompts": list(p["prompts"])} for p in pairs]


def view_cells(config: dict, view: str) -> list[str]:
    """Per pair: the image as made (read as prompt 1) and the image through ``view`` (prompt 2)."""
    return [
        f"{VIEWS_DIR}/{view}/{p['name']}/{c}.png"
        for p in view_pairs(config)
        for c in ("image", view)
    ]


def view_table(view: str) -> str:
    return f"{VIEWS_DIR}/{view}/table.json"


def views_judge(config: dict, ext: str) -> str:
    return f"{VIEWS_DIR}/success.{ext}"


def views_files(config: dict, kind: str) -> list[str]:
    """X3's figures (every cell; the success-rate plot on mnist), tables or benchmarks."""
    if not views_enabled(config):
        return []
    names, judged = view_names(config), mnist(config)
    if kind == "figures":
        out = [c for v in names for c in view_cells(config, v)]
        return out + ([views_judge(config, "png")] if judged else [])
    if kind == "tables":
        return [view_table(v) for v in names] + ([views_judge(config, "json")] if judged else [])
    if kind == "benchmarks":
        out = [f"benchmarks/rules/beyond_views_{v}.tsv" for v in names]
        return out + (["benchmarks/rules/beyond_views_judge.tsv"] if judged else [])
    raise ValueError(f"unknown kind {kind!r}")


def views_title(config: dict, view: str) -> str:
    """The title of one view's table, or of the success rates (``view`` "success")."""
    if view == "success":
        return table_title("X3", "success")
    return table_title("X3", "view", view=view)


def views_params(config: dict) -> dict:
    """The beyond.views settings a views rule uses (its params: editing them reruns it)."""
    v = _item(config, "views")
    return {"views": view_names(config), "pairs": view_pairs(config), "samples": v["samples"]}


# ------------------------------------------------------------------ X4: RePaint


def repaint_enabled(config: dict) -> bool:
    return bool(_item(config, "repaint").get("enabled"))


def repaint_images(config: dict) -> list[str]:
    return [s["image"] for s in config["parta"]["inpaint"]]


def repaint_cells(config: dict) -> list[str]:
    return [f"{REPAINT_DIR}/{i}/{c}.png" for i in repaint_images(config) for c in REPAINT_CELLS]


def repaint_files(config: dict, kind: str) -> list[str]:
    """X4's figures (every cell, then the plot of the measured wall times, named *timing*:
    it differs between runs), tables (the metrics, then the spec that shows that plot) or
    benchmarks."""
    if not repaint_enabled(config):
        return []
    return {
        "figures": [*repaint_cells(config), REPAINT_TIMING_PLOT],
        "tables": [f"{REPAINT_DIR}/table.json", f"{REPAINT_DIR}/cost.json"],
        "benchmarks": ["benchmarks/rules/beyond_repaint.tsv"],
    }[kind]


def repaint_title(config: dict) -> str:
    r = _item(config, "repaint")
    return table_title("X4", "table", jump_length=r["jump_length"], resamplings=r["resamplings"])


def repaint_cost_title(config: dict) -> str:
    """The title of X4's wall-time plot (the table spec cost.json)."""
    return table_title("X4", "cost", samples=_item(config, "repaint")["samples"])


def repaint_params(config: dict) -> dict:
    """beyond.repaint's settings and the inpainting cases (parta.inpaint) they run on."""
    r = _item(config, "repaint")
    keys = ("jump_length", "resamplings", "samples", "band")
    return {**{k: r[k] for k in keys}, "cases": [dict(s) for s in config["parta"]["inpaint"]]}


def repaint_inputs(config: dict) -> dict:
    """Every inpainted image's PNG (and mask file), keyed image_<name> / mask_<name>."""
    out = {}
    for name in repaint_images(config):
        files = layout.image_inputs(config, name)
        out |= {f"{k}_{name}": v for k, v in files.items()}
    return out


# ------------------------------------------------------------------ X5: logo


def logo_enabled(config: dict) -> bool:
    """beyond.logo on and the deepfloyd backend (the mnist backend has no logo to draw)."""
    return bool(_item(config, "logo").get("enabled")) and not mnist(config)


def logo_cells(config: dict) -> list[str]:
    n = range(len(_item(config, "logo")["prompts"]))
    return [f"{LOGO_DIR}/{stage}_{k}.png" for stage in ("stage1", "stage2") for k in n]


def logo_files(config: dict, kind: str) -> list[str]:
    if not logo_enabled(config):
        return []
    return {
        "figures": logo_cells(config),
        "tables": [f"{LOGO_DIR}/table.json"],
        "benchmarks": ["benchmarks/rules/beyond_logo.tsv"],
    }[kind]


def logo_params(config: dict) -> dict:
    lg = _item(config, "logo")
    seed = config["seed"] if lg["seed"] is None else lg["seed"]
    return {
        "prompts": list(lg["prompts"]),
        "steps": lg["steps"],
        "stage2_steps": lg["stage2_steps"],
        "seed": seed,
    }


def logo_title(config: dict) -> str:
    return table_title("X5", "table")


def logo_prompts(config: dict) -> list[str]:
    """The logo prompts the prompt-embedding cache must hold (none while the item is off)."""
    return list(_item(config, "logo")["prompts"]) if logo_enabled(config) else []
