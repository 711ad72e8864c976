# The writeup: results/report/index.html + README.md from every figure's table spec.
# Part A plugs in through two helpers in rules/common.smk, parta_tables() (JSON table specs) and
# parta_figures() (the images they show), and optionally parta_benchmarks() (benchmark: files of
# its expensive rules). Until Part A lands they are defined here as empty lists.
if "parta_tables" not in globals():

    def parta_tables():
        return []


if "parta_figures" not in globals():

    def parta_figures():
        return []


if "parta_benchmarks" not in globals():

    def parta_benchmarks():
        return []


def parta_backend():
    """Which model made Part A (config parta.backend), or None when Part A is not configured."""
    return config.get("parta", {}).get("backend")


rule report:
    """The writeup (HTML + Markdown twin) with provenance; images linked relative to results/."""
    input:
        tables=partb_tables() + parta_tables(),
        figures=partb_figures() + parta_figures(),
        checkpoints=partb_checkpoints(),
        benchmarks=partb_benchmarks() + parta_benchmarks(),
        templates=[
            "report/index.html.j2",
            "report/README.md.j2",
            "report/style.css",
            "report/sections.yaml",
        ],
        lib=lib("report", "figures", "io", "device"),
    output:
        html="results/report/index.html",
        md="results/report/README.md",
        rotated=directory("results/report/rotated"),
    log:
        "logs/report/report.log",
    conda:
        "../envs/fundiff.yaml"
    params:
        preset=config["preset"],
        seed=config["seed"],
        device=config["device"],
        parta_backend=parta_backend(),
    script:
        "../scripts/report.py"
