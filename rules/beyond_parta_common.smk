# Input functions and report flags of the beyond-the-spec Part A items (X3 - X5: rules/
# beyond_views.smk, beyond_repaint.smk, beyond_logo.smk); their files and params come from the
# library (fundiff.parta.beyond, torch-free). Each rule file registers BEYOND[item] = files(kind).
from fundiff.parta import beyond as BY  # noqa: E402


def beyond_views_cells():
    """The cells of the {view} table, flagged for Snakemake's report (labels: the view, the
    pair and what the cell shows)."""
    shown = [(p["name"], c) for p in BY.view_pairs(config) for c in ("image", "view")]

    def labels(pair, cell):
        return lambda w: {"view": w.view, "pair": pair, "cell": cell}

    return [
        report_flag(
            path,
            caption="../report/beyond_views.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("views")),
            labels=labels(pair, cell),
        )
        for path, (pair, cell) in zip(BY.view_cells(config, "{view}"), shown)
    ]


def beyond_repaint_inputs(wildcards):
    """The model, the images (and mask files) and, on mnist, the digit classifier."""
    out = {**pa_model_inputs(), **BY.repaint_inputs(config)}
    return out | ({"classifier": "results/eval/classifier.pt"} if BY.mnist(config) else {})


def beyond_repaint_cells():
    """Every image's cells, flagged for Snakemake's report (labels: image and cell)."""
    shown = [(i, c) for i in BY.repaint_images(config) for c in BY.REPAINT_CELLS]
    return [
        report_flag(
            path,
            caption="../report/beyond_repaint.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("repaint")),
            labels={"image": image, "cell": cell.replace("_", " ")},
        )
        for path, (image, cell) in zip(BY.repaint_cells(config), shown)
    ]


def beyond_logo_cells():
    """The stage I and II images of every prompt, flagged for Snakemake's report."""
    prompts = list(enumerate(config["beyond"]["logo"]["prompts"], 1))
    shown = [(s, f"{k}: {q}") for s in ("I", "II") for k, q in prompts]
    return [
        report_flag(
            path,
            caption="../report/beyond_logo.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("logo")),
            labels={"stage": stage, "prompt": prompt},
        )
        for path, (stage, prompt) in zip(BY.logo_cells(config), shown)
    ]
