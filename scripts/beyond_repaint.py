"""Rule beyond_repaint (X4): RePaint resampling vs the spec's one-pass inpainting of every
parta.inpaint image, N samples by each method in one batch with the same seeds
(fundiff.evaluation.beyond_parta.repaint_image); one sample of each is shown. The measured wall
times go to their own files (timing.json, timing.png), shown by the table spec cost.json."""

from pathlib import Path

from fundiff.device import resolve_device
from fundiff.evaluation import beyond_parta as bp
from fundiff.evaluation import classifier
from fundiff.io import save_npz, write_json
from fundiff.parta.images import image_mask, rect_mask
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image


def main(smk, log):
    p, r, out = smk.params, smk.params.repaint, smk.output
    backend = backend_from_rule(smk)
    clf = None
    if "classifier" in smk.input.keys():
        clf = classifier.load_classifier(smk.input.classifier, resolve_device(p.device))
    table = Table(backend, Path(out.table).parent, p.upscale)
    rows, timing = [], []
    for case in r["cases"]:
        image = case["image"]
        x_0 = load_image(backend, smk.input[f"image_{image}"], p.invert[image], p.resize[image])
        key = f"parta.inpaint ({image})"
        if case.get("rects"):
            mask = rect_mask(backend.image_size, case["rects"], f"{key}.rects")
        else:
            mask = image_mask(smk.input[f"mask_{image}"], backend.image_size, f"{key}.mask")
        got, times, shown = bp.repaint_image(
            backend, x_0, mask, image, r["samples"], p.timesteps, p.prompt, p.seed,
            p.guidance_scale, r, clf,
        )  # fmt: skip
        cells = [
            table.cell(f"{image}/original", shown["original"], "original"),
            table.cell(f"{image}/to_replace", shown["to_replace"], "to replace", model=False),
        ]
        for row, t in zip(got, times, strict=True):
            m = row["method"]
            cells.append(table.cell(f"{image}/{m}", shown[m], bp.repaint_caption(m, r)))
            log.info("X4 %s %s: %s, %.3f s", image, m, row, t["seconds"])
        table.row(image, cells)
        rows, timing = rows + got, timing + times
    params = {k: r[k] for k in ("jump_length", "resamplings", "samples", "band")}
    params |= {"seed": p.seed, "guidance_scale": p.guidance_scale, "prompt": p.prompt}
    params |= {"timesteps": list(p.timesteps), "backend": p.backend["name"]}
    save_npz(out.npz, **table.arrays)
    write_table(out.table, **bp.repaint_table(p.title, rows, table.rows, params, r["samples"]))
    write_json(out.timing, timing)
    bp.plot_repaint_timing(timing, out.timing_png, p.cost_title)
    write_table(out.cost, **bp.repaint_timing_table(p.cost_title, out.timing_png, params))


run(snakemake, main)  # noqa: F821
