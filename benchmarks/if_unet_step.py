"""Benchmark: one strided Part A step with a real-size DeepFloyd IF stage-I UNet (random weights).

Times, on one GPU in fp16, the noise estimate of one step of our strided loop
(990 -> 0, stride 30) with classifier-free guidance done two ways, side by side:
  * batched: conditional and unconditional halves in ONE forward of batch 2N (fundiff.diffusion.ddpm.cfg_batched)
  * two forwards: conditional and unconditional separately (the spec notebook's way)
plus the whole 33-step loop (fundiff.diffusion.ddpm.sample_loop, learned-range variance) with the batched
CFG. The UNet config is IF-I-XL-v1.0's (4.3 B parameters; deepfloyd-facts §1.6); weights are
random, which does not change the cost. Prints JSON.

    python benchmarks/if_unet_step.py [--tiny] [--batch 1] [--repeats 10] [--out FILE]

``--tiny`` uses a small config so the script can be checked on a CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from _rows import add_rows, row

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from fundiff.diffusion import ddpm  # noqa: E402

IF_I_XL = {
    "act_fn": "gelu",
    "addition_embed_type": "text",
    "addition_embed_type_num_heads": 64,
    "attention_head_dim": 64,
    "block_out_channels": [704, 1408, 2112, 2816],
    "cross_attention_dim": 2816,
    "cross_attention_norm": "group_norm",
    "down_block_types": [
        "ResnetDownsampleBlock2D",
        "SimpleCrossAttnDownBlock2D",
        "SimpleCrossAttnDownBlock2D",
        "SimpleCrossAttnDownBlock2D",
    ],
    "encoder_hid_dim": 4096,
    "encoder_hid_dim_type": "text_proj",
    "in_channels": 3,
    "layers_per_block": 3,
    "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
    "out_channels": 6,
    "resnet_time_scale_shift": "scale_shift",
    "sample_size": 64,
    "up_block_types": [
        "SimpleCrossAttnUpBlock2D",
        "SimpleCrossAttnUpBlock2D",
        "SimpleCrossAttnUpBlock2D",
        "ResnetUpsampleBlock2D",
    ],
}
TINY = {
    **IF_I_XL,
    "block_out_channels": [32, 64],
    "down_block_types": ["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
    "up_block_types": ["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "encoder_hid_dim": 16,
    "attention_head_dim": 8,
    "addition_embed_type_num_heads": 2,
    "norm_num_groups": 8,
    "sample_size": 16,
}


def timed(fn, repeats: int, device: torch.device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after two warm-ups."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def table_rows(d: dict) -> list[dict]:
    """The report's table row of one run (benchmarks/_rows.py): batched CFG vs two forwards."""
    batched, two = d["cfg_batched_step_s"], d["cfg_two_forwards_step_s"]
    loop = d.get("loop_per_step_s")
    return [
        row(
            f"IF UNet step ({d.get('config', '?')})",
            str(d.get("device", "")),
            f"{d.get('dtype', '')}, batch {d.get('batch', '?')}",
            "CFG batched vs two forwards",
            f"{1e3 * batched:.1f} vs {1e3 * two:.1f} ms",
            d.get("speedup_batched_vs_two", two / batched),
            f"33-step loop {1e3 * loop:.1f} ms/step" if loop else "",
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out")
    args = ap.parse_args()
    from diffusers import DDPMScheduler, UNet2DConditionModel

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    cfg = TINY if args.tiny else IF_I_XL
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**cfg)
    unet = unet.to(dtype).eval()
    n_params = sum(p.numel() for p in unet.parameters())
    size, ch = unet.config.sample_size, unet.config.in_channels
    n = args.batch
    x = torch.randn(n, ch, size, size, device=device, dtype=dtype)
    emb_dim = unet.config.encoder_hid_dim
    cond = torch.randn(n, 77, emb_dim, device=device, dtype=dtype)
    uncond = torch.randn(n, 77, emb_dim, device=device, dtype=dtype)

    def model(x_t, t, c):
        return unet(x_t, t, encoder_hidden_states=c, return_dict=False)[0]

    t = torch.full((n,), 690, device=device)

    @torch.no_grad()
    def batched():
        out = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, uncond]))
        c_out, u_out = out[:n], out[n:]
        return ddpm.cfg(u_out[:, :ch], c_out[:, :ch], 7.0), c_out[:, ch:]

    @torch.no_grad()
    def two_forwards():
        c_out, u_out = model(x, t, cond), model(x, t, uncond)
        return ddpm.cfg(u_out[:, :ch], c_out[:, :ch], 7.0), c_out[:, ch:]

    a, b = batched(), two_forwards()
    max_diff = (a[0] - b[0]).abs().max().item()
    t_batched = timed(batched, args.repeats, device)
    t_two = timed(two_forwards, args.repeats, device)

    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    schedule = ddpm.Schedule.from_alphas_cumprod(sched.alphas_cumprod)
    timesteps = ddpm.strided_timesteps(990, 30)

    @torch.no_grad()
    def eps_fn(x_t, step_t):
        tt = torch.full((n,), step_t, device=device)
        out = model(torch.cat([x_t, x_t]), torch.cat([tt, tt]), torch.cat([cond, uncond]))
        c_out, u_out = out[:n], out[n:]
        return ddpm.cfg(u_out[:, :ch], c_out[:, :ch], 7.0), c_out[:, ch:]

    def loop():
        g = torch.Generator().manual_seed(0)
        return ddpm.sample_loop(eps_fn, schedule, x, timesteps, g, "learned_range")

    t_loop = timed(loop, max(1, args.repeats // 5), device)
    result = {
        "benchmark": "if_unet_step",
        "config": "tiny" if args.tiny else "IF-I-XL-v1.0 (random weights)",
        "parameters": n_params,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
        "dtype": str(dtype),
        "batch": n,
        "torch": torch.__version__,
        "cfg_batched_step_s": t_batched,
        "cfg_two_forwards_step_s": t_two,
        "speedup_batched_vs_two": t_two / t_batched,
        "batched_vs_two_max_abs_diff": max_diff,
        "strided_loop_33_steps_s": t_loop,
        "loop_per_step_s": t_loop / (len(timesteps) - 1),
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    add_rows(result, table_rows(result))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
