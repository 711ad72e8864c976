"""Rule beyond_repaint (X4): RePaint resampling vs the spec's one-pass inpainting.

For every parta.inpaint image: N inpaintings by each method in one batch, with the same seeds
(seeded_generator(seed, "repaint", image) and (..., "known")), so with resamplings = 1 both
are identical; metrics from fundiff.evaluation.beyond_parta; one sample of each is shown.
"""

import time
from pathlib import Path

import torch

from fundiff.device import resolve_device
from fundiff.evaluation import beyond_parta, classifier
from fundiff.io import save_npz
from fundiff.parta import loops
from fundiff.parta.images import image_mask, rect_mask
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image, seeded_generator


def main(smk, log):
    p, r = smk.params, smk.params.repaint
    backend = backend_from_rule(smk)
    clf = None
    if "classifier" in smk.input.keys():
        clf = classifier.load_classifier(smk.input.classifier, resolve_device(p.device))
    table = Table(backend, Path(smk.output.table).parent, p.upscale)
    rows, n = [], r["samples"]
    for case in r["cases"]:
        image = case["image"]
        x_0 = load_image(backend, smk.input[f"image_{image}"], p.invert[image], p.resize[image])
        key = f"parta.inpaint ({image})"
        if case.get("rects"):
            mask = rect_mask(backend.image_size, case["rects"], f"{key}.rects")
        else:
            mask = image_mask(smk.input[f"mask_{image}"], backend.image_size, f"{key}.mask")
        mask = mask[None].to(backend.device)
        x_orig = torch.cat([x_0] * n)
        cond, uncond = backend.encode([p.prompt] * n), backend.uncond(n)
        orig01 = backend.from_model(x_0).float().clamp(0, 1).cpu()
        label = None if clf is None else int(classifier.predict(clf, orig01)[0])
        shown = [table.cell(f"{image}/original", x_0[0], "original")]
        masked01 = (orig01 * (1 - mask.cpu()))[0]
        shown.append(table.cell(f"{image}/to_replace", masked01, "to replace", model=False))
        loops.cfg_predict(
            backend, x_orig, p.timesteps[0], cond, uncond, p.guidance_scale
        )  # warm-up
        for method, (j, res) in (
            ("one_pass", (1, 1)),
            ("repaint", (r["jump_length"], r["resamplings"])),
        ):
            start = time.perf_counter()
            x = loops.repaint_inpaint(
                backend, x_orig, mask, list(p.timesteps), cond, uncond,
                seeded_generator(p.seed, "repaint", image),
                seeded_generator(p.seed, "repaint", image, "known"),
                p.guidance_scale, jump_length=j, resamplings=res,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            x01 = backend.from_model(x).float().clamp(0, 1).cpu()
            m = beyond_parta.inpaint_metrics(x01, orig01, mask[0, 0].cpu(), r["band"])
            acc = None
            if clf is not None:
                acc = float((classifier.predict(clf, x01) == label).mean())
            rows.append(
                {
                    "image": image, "method": method, "n": n, "accuracy": acc,
                    "band_error": float(m["band_error"].mean()), "seam": float(m["seam"].mean()),
                    "original_seam": float(beyond_parta.seam(orig01, mask[0, 0].cpu())[0]),
                    "outside_error": float(m["outside_error"].max()), "seconds": round(seconds, 3),
                }
            )  # fmt: skip
            caption = "one-pass (spec)" if method == "one_pass" else f"RePaint (j {j}, r {res})"
            shown.append(table.cell(f"{image}/{method}", x[0], caption))
            log.info("X4 %s %s: %s", image, method, rows[-1])
        table.row(image, shown)
    params = {k: r[k] for k in ("jump_length", "resamplings", "samples", "band")}
    params |= {"seed": p.seed, "guidance_scale": p.guidance_scale, "prompt": p.prompt}
    params |= {"timesteps": list(p.timesteps), "backend": p.backend["name"]}
    save_npz(smk.output.npz, **table.arrays)
    write_table(
        smk.output.table, **beyond_parta.repaint_table(p.title, rows, table.rows, params, n)
    )


run(snakemake, main)  # noqa: F821
