"""Can a 28 x 28 MNIST model make hybrid images? A measured sweep for A1.9 (mnist backend).

    python benchmarks/hybrid_sweep.py --checkpoint results/partb/class_cond/epochs/epoch_020.pt \
        --classifier results/eval/classifier.pt [--n 32] [--name NAME]

For every (kernel, sigma, guidance scale, Part A stride) the configured hybrid pairs are sampled
(n per pair, one batch, the Part A loop fundiff.parta.loops.hybrid through fundiff.evaluation.samples) and
judged as the pipeline judges them (fundiff.evaluation.metrics.hybrid_success: blurred with sigma
``far_sigma`` = prompt 1, as is = prompt 2). Writes benchmarks/results/hybrid_sweep_<name>.json
with every setting's per-pair "both" rate, sorted by the worst pair.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from _rows import add_rows, machine_text, row

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from fundiff.device import cpu_model_name  # noqa: E402
from fundiff.diffusion import ddpm  # noqa: E402
from fundiff.evaluation import classifier, metrics  # noqa: E402
from fundiff.evaluation import samples as parta_eval  # noqa: E402
from fundiff.parta.backends import load_backend  # noqa: E402
from fundiff.parta.backends.mnist import parse_prompt  # noqa: E402


def table_rows(d: dict) -> list[dict]:
    """The report's table row of a sweep (benchmarks/_rows.py): the best setting."""
    b = d["best"]
    pairs = ", ".join(f"{k} {v['both']:.0%}" for k, v in (b.get("pairs") or {}).items())
    return [
        row(
            "hybrid images (A1.9) setting sweep",
            machine_text(d.get("machine")),
            "cpu",
            f"best of {len(d.get('settings', []))}: kernel {b.get('kernel_size')}, sigma "
            f"{b.get('sigma')}, CFG {b.get('guidance_scale')}, stride {b.get('stride')}",
            f"worst pair {b.get('min_both', 0):.0%} both views",
            note=f"n = {d.get('n_per_pair')} per pair: {pairs}",
        )
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--kernels", default="3,5,7,9,11")
    ap.add_argument("--sigmas", default="0.5,1,1.5,2,3")
    ap.add_argument("--scales", default="3,7")
    ap.add_argument("--strides", default="10")
    ap.add_argument("--far-sigma", type=float, default=2.0)
    ap.add_argument("--bf16", action="store_true", help="UNet under bf16 autocast")
    ap.add_argument("--name", default="cpu")
    args = ap.parse_args(argv)
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    pairs = [p["prompts"] for p in cfg["parta"]["hybrids"]["pairs"]]
    start = cfg["parta"]["timesteps"]["start"]
    backend = load_backend({"name": "mnist", "bf16": args.bf16}, "cpu", checkpoint=args.checkpoint)
    clf = classifier.load_classifier(args.classifier)
    rows, t0 = [], time.perf_counter()
    grid = itertools.product(
        [int(k) for k in args.kernels.split(",")],
        [float(s) for s in args.sigmas.split(",")],
        [float(g) for g in args.scales.split(",")],
        [int(s) for s in args.strides.split(",")],
    )
    for kernel, sigma, scale, stride in grid:
        ts = ddpm.strided_timesteps(start, stride)
        x = parta_eval.illusion_samples(
            backend, "hybrid", pairs, args.n, ts, 180, scale, kernel, sigma
        )
        per_pair = {}
        for i, (p1, p2) in enumerate(pairs):
            xs = x[i * args.n : (i + 1) * args.n]
            far = [parse_prompt(p1)] * args.n
            near = [parse_prompt(p2)] * args.n
            per_pair["_".join((p1, p2))] = metrics.hybrid_success(
                clf, xs, far, near, args.far_sigma
            )
        both = [r["both"] for r in per_pair.values()]
        row = {"kernel_size": kernel, "sigma": sigma, "guidance_scale": scale, "stride": stride,
               "min_both": min(both), "mean_both": sum(both) / len(both), "pairs": per_pair}  # fmt: skip
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "pairs"}), flush=True)
    rows.sort(key=lambda r: (-r["min_both"], -r["mean_both"]))
    out = {
        "benchmark": "hybrid_sweep",
        "machine": {"cpu_model": cpu_model_name(), "torch": torch.__version__},
        "n_per_pair": args.n,
        "far_sigma": args.far_sigma,
        "pairs": pairs,
        "seconds": round(time.perf_counter() - t0, 1),
        "best": dict(rows[0]),
        "settings": rows,
    }
    path = REPO / "benchmarks" / "results" / f"hybrid_sweep_{args.name}.json"
    add_rows(out, table_rows(out))
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(
        f"{path}: best {out['best']['kernel_size']}/{out['best']['sigma']}: {rows[0]['min_both']}"
    )
    return out


if __name__ == "__main__":
    main()
