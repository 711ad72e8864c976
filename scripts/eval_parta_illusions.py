"""Rule eval_parta_illusions (mnist backend): success rates of visual anagrams and hybrids.

N samples of every configured pair are made in one batch by the same Part A loops as A1.8 / A1.9
(fundiff.evaluation.samples.illusion_samples) and judged by the digit classifier trained on real digits:

* anagram  upright classified as prompt 1 AND turned (parta.anagrams.view: flip or rotate180,
           the view the loop denoised for prompt 2) as prompt 2
* hybrid   blurred ("seen from afar", Gaussian sigma ``far_sigma``) classified as the
           low-frequency prompt 1; as is ("up close") as the high-frequency prompt 2
"""

import pandas as pd

from fundiff.device import resolve_device
from fundiff.evaluation import classifier, metrics, plots
from fundiff.evaluation import samples as parta_eval
from fundiff.io import save_npz, write_csv
from fundiff.parta import views
from fundiff.parta.prompts import parse_prompt
from fundiff.plotting import to_uint8_image
from fundiff.report import tables as figures
from fundiff.workflow.script import backend_from_rule, run


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    clf = classifier.load_classifier(smk.input.classifier, resolve_device(p.device))
    n, ts, rows, arrays = p.samples, list(p.timesteps), [], {}
    for kind, spec, offset in (("anagram", p.anagrams, 0), ("hybrid", p.hybrids, 1)):
        pairs = [list(pair["prompts"]) for pair in spec["pairs"]]
        x = parta_eval.illusion_samples(
            backend,
            kind,
            pairs,
            n,
            ts,
            p.seed + offset,
            p.guidance_scale,
            spec.get("kernel_size"),
            spec.get("sigma"),
            spec.get("view", "flip"),
        )
        for j, pair in enumerate(spec["pairs"]):
            xs = x[j * n : (j + 1) * n]
            c1, c2 = (parse_prompt(q) for q in pair["prompts"])
            arrays[f"{kind}__{pair['name']}"] = to_uint8_image(xs)
            if kind == "anagram":
                turn = views.VIEWS[spec["view"]]
                r = metrics.anagram_success(clf, xs, [c1] * n, [c2] * n, flip=turn)
                rates = {"view1": r["upright"], "view2": r["flipped"], "both": r["both"]}
            else:
                r = metrics.hybrid_success(clf, xs, [c1] * n, [c2] * n, blur_sigma=p.far_sigma)
                rates = {"view1": r["far"], "view2": r["near"], "both": r["both"]}
            rows.append({"kind": kind, "pair": pair["name"], "prompt1": pair["prompts"][0],
                         "prompt2": pair["prompts"][1], "n": n, **rates})  # fmt: skip
    df = pd.DataFrame(rows)
    write_csv(df, smk.output.csv)
    save_npz(smk.output.npz, **arrays)
    plots.plot_illusions(df, smk.output.png)
    figures.write_table(
        smk.output.table,
        "A2",
        "Visual anagrams and hybrid images: success rates judged by the digit classifier",
        [{"label": "", "cells": [figures.cell(smk.output.png, "success rates per pair")]}],
        params={
            "samples per pair": n,
            "seed": p.seed,
            "guidance_scale": p.guidance_scale,
            "hybrid kernel_size": p.hybrids["kernel_size"],
            "hybrid sigma": p.hybrids["sigma"],
            "far_sigma": p.far_sigma,
        },
        caption=(
            f"{n} samples per prompt pair, made by the same loops as 1.8 and 1.9 and classified "
            "by the CNN trained on real MNIST digits only (never on generated ones). Anagram: "
            f"view 1 = upright classified as prompt 1, view 2 = turned ({p.anagrams['view']}, the "
            "view the loop denoised for prompt 2) classified as prompt 2, both = both at once. "
            "Hybrid: view 1 = blurred (seen from afar) "
            "classified as the low-frequency prompt 1, view 2 = as is (up close) classified as "
            "the high-frequency prompt 2."
        ),
        data={
            "columns": [
                "kind",
                "pair",
                "prompts",
                "view 1",
                "view 2",
                "both",
                "n",
            ],
            "rows": [
                [
                    r["kind"],
                    r["pair"],
                    f"{r['prompt1']} / {r['prompt2']}",
                    r["view1"],
                    r["view2"],
                    r["both"],
                    r["n"],
                ]  # fmt: skip
                for r in rows
            ],
        },
    )
    log.info("illusion success rates:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
