# What the writeup is made from (the report rule's inputs), from the target lists in
# rules/common.smk: every part's table specs (fundiff.report.tables), the images they show and
# the benchmark files of the expensive rules. And how those images are flagged for Snakemake's
# own report (`snakemake --report results/report.zip`, report/workflow.rst): category = the part,
# subcategory = the writeup section (fundiff.report.sections), labels = the cell
# (fundiff.parta.layout.cell_labels). Included right after rules/common.smk: the rule files
# call these helpers in their output: blocks.
# report() under another name: a line that starts with `report` is the Snakefile's report: keyword
from snakemake.io import apply_wildcards, report as report_flag  # noqa: E402

# caption (report/parta_<name>.rst) of each Part A section's cells: one per script
PARTA_CAPTIONS = {
    "a0": "a0",
    **dict.fromkeys(("a1_1", "a1_2", "a1_3"), "noisy"),
    "a1_4": "iterative",
    **dict.fromkeys(("a1_5", "a1_6"), "sample"),
    **dict.fromkeys(layout.SDEDIT, "sdedit"),
    "a1_7_2": "inpaint",
    **dict.fromkeys(layout.PAIRS, "pair"),
}


def parta_report_cells(folder, key="{key}", under=None):
    """``PA.cells(folder, key, under)`` (layout.cells: the image cells of one part or section),
    each flagged for Snakemake's report: category "Part A", the section as subcategory and the
    cell's labels. ``key`` / ``under`` may be wildcard patterns ({steps}, {image}, {sdir}, ...):
    section and labels are looked up per job, from its wildcards."""
    parted = layout.record(folder).parted

    def part(wildcards):
        sdir = apply_wildcards(under, wildcards) if under else folder
        return sdir, apply_wildcards(key, wildcards) if parted else key

    def subcategory(wildcards):
        return report_subcategory(layout.record(part(wildcards)[0]).id)

    def labels(i):
        return lambda wildcards: list(PA.cell_labels(*part(wildcards)).values())[i]

    caption = f"../report/parta_{PARTA_CAPTIONS[folder]}.rst"
    return [
        report_flag(
            path, caption=caption, category="Part A", subcategory=subcategory, labels=labels(i)
        )
        for i, path in enumerate(PA.cells(folder, key, under=under))
    ]


def measured_report(path, kind, figure):
    """A measured-results plot (results/eval/<name>.png) flagged for Snakemake's report:
    category "Measured results", subcategory the writeup section that shows ``kind`` figures
    (fundiff.report.sections.figure_section), caption report/eval_<name>.rst, label ``figure``."""
    return report_flag(
        path,
        caption=f"../report/eval_{Path(path).stem}.rst",
        category="Measured results",
        subcategory=report_subcategory(figure_section(kind)),
        labels={"figure": figure},
    )


def report_tables():
    tables = partb_files("tables") + parta_tables() + eval_tables() + parta_eval_tables()
    return tables + beyond_files("tables") + ["results/benchmarks/table.json"]


def report_figures():
    figures = partb_files("figures") + parta_figures() + eval_figures() + parta_eval_figures()
    return figures + beyond_files("figures")


def report_benchmarks():
    return partb_files("benchmarks") + parta_eval_benchmarks() + beyond_files("benchmarks")
