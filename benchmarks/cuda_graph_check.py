"""Check (GPU): training with whole-step CUDA graphs does the same math as eager training.

Trains the class-conditioned UNet twice from the same seed -- ``cuda_graph`` off and on, EMA on,
a short last batch in every epoch, LR decay across epochs -- and prints
JSON with the largest per-step loss difference and the largest final-weight difference
(EMA weights included). On a CPU both runs are eager and the differences are 0.

    python benchmarks/cuda_graph_check.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from _rows import add_rows, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from fundiff.diffusion.train import TrainConfig, train  # noqa: E402


def run(cuda_graph: bool, device: torch.device, tmp: Path) -> tuple[list[float], dict]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1000, 28, 28), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 10, (1000,), generator=g)
    cfg = TrainConfig(
        task="class", hidden=16, batch_size=96, epochs=3, lr=1e-3, lr_decay_to=0.1,
        ema_decay=0.99, channels_last=True, cuda_graph=cuda_graph, seed=3,
    )  # fmt: skip
    work = tmp / f"graph_{cuda_graph}"
    hist = train(cfg, images, labels, work, device, False)
    ckpt = torch.load(work / "epoch_003.pt", map_location="cpu", weights_only=True)
    return [h["loss"] for h in hist], ckpt["state_dict"]


def table_rows(d: dict) -> list[dict]:
    """The report's table row of one check (benchmarks/_rows.py): the largest differences."""
    return [
        row(
            "CUDA-graph training step vs eager (correctness)",
            str(d.get("device", "")),
            f"torch {d.get('torch', '?')}",
            f"{d.get('steps', '?')} steps, same seed",
            f"max |loss diff| {d['max_abs_loss_diff']:.1e}",
            note=f"max |weight diff| {d.get('max_abs_weight_diff') or 0:.1e}",
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        loss_e, w_e = run(False, device, Path(tmp))
        loss_g, w_g = run(True, device, Path(tmp))
    result = {
        "check": "cuda_graph_vs_eager",
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "steps": len(loss_e),
        "max_abs_loss_diff": max(abs(a - b) for a, b in zip(loss_e, loss_g, strict=True)),
        "max_abs_weight_diff": max(
            (w_e[k].double() - w_g[k].double()).abs().max().item() for k in w_e
        ),
        "first_losses_eager": loss_e[:3],
        "first_losses_graph": loss_g[:3],
    }
    add_rows(result, table_rows(result))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
