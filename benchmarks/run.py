"""Benchmarks, each a ratio of two variants measured side by side in one run on one machine.

    python benchmarks/run.py --quick           tiny sizes, < 1 min (CI; the test checks the JSON shape)
    python benchmarks/run.py                   training throughput + CFG, CPU and (if visible) CUDA
    python benchmarks/run.py --fa24-partb      + the three fa24 Part B trainings in-process (GPU;
                                                 whole-step CUDA graphs as in configs/fa24.yaml;
                                                 --fa24-eager: also without them)
    python benchmarks/run.py --compile         + a torch.compile variant of our loop (CUDA only;
                                                 --fa24-compile: also of the fa24 trainings)
    python benchmarks/run.py --pipeline        + cold `snakemake --cores all` of the embedded preset
                                                 in a temp copy, then an up-to-date dry run (~10 min)
    python benchmarks/run.py --pipeline --pipeline-threads
                                               + a second cold run with 1 thread per training

Prints one JSON document and writes benchmarks/results/<name>.json (name: quick | full, or
--name). Needs only torch (+ numpy) and the repository's src/ (put on sys.path here); --pipeline
also needs snakemake. Variants are interleaved round by round (A B A B ...) and the median round
is reported, so that load from other processes hits both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402
from _rows import add_rows, machine_text, row  # noqa: E402

from fundiff.device import bf16_autocast_enabled, cpu_model_name  # noqa: E402
from fundiff.diffusion import ddpm  # noqa: E402
from fundiff.diffusion.cuda_graph import GraphedTrainStep  # noqa: E402
from fundiff.diffusion.train import (  # noqa: E402
    TrainConfig,
    autocast_for,
    build_training,
    loss_fn,
    train,
    train_step,
)
from fundiff.diffusion.unet import CPU_MAX_ROWS, UNet, forward_chunked  # noqa: E402

# The fa24 spec's three Part B trainings (configs/fa24.yaml; tests/unit/core/test_benchmark_scripts.py checks that
# these match it, since the GPU box may lack pyyaml).
FA24_PARTB = {
    "denoiser": dict(task="denoiser", hidden=128, batch_size=256, epochs=5, lr=1e-4, sigma=0.5),
    "time_cond": dict(task="time", hidden=64, batch_size=128, epochs=20, lr=1e-3, lr_decay_to=0.1),
    "class_cond": dict(
        task="class", hidden=64, batch_size=128, epochs=20, lr=1e-3, lr_decay_to=0.1, p_uncond=0.1
    ),
}
FA24_NUM_TRAIN = 60_000


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(variants: dict, rounds: int) -> dict:
    """Run each variant's callable once per round, alternating; return median seconds each."""
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            times[name].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------- training


def _digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), torch.randint(
        0, 10, (n,), generator=g
    )


def ours_runner(cfg: TrainConfig, images, labels, device, steps: int, compile: str | None = None):
    """fundiff.diffusion.train's inner loop: data resident on the device, index gathers, channels_last,
    fused Adam + bf16 autocast on CUDA (as cfg says), no host sync inside the timed steps; with
    ``cfg.cuda_graph`` each step is one CUDA-graph replay (fundiff.diffusion.cuda_graph.GraphedTrainStep)."""
    x_all = (images.to(device, torch.float32) / 255.0).unsqueeze(1)
    y_all = labels.to(device)
    model, opt, _, ema, memory_format = build_training(cfg, device)
    fwd = torch.compile(model, mode=compile) if compile else model
    schedule = cfg.schedule()
    g = torch.Generator(device=device).manual_seed(1)
    gp = torch.Generator().manual_seed(0)
    autocast = autocast_for(cfg, device)
    n, bs = len(labels), cfg.batch_size
    graphed = (
        GraphedTrainStep(cfg, fwd, opt, ema, schedule, x_all, y_all, g, memory_format)
        if cfg.cuda_graph and device.type == "cuda"
        else None
    )
    model.train()

    def run(k: int) -> float:
        sync(device)
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gp).to(device)
        for i in range(k):
            j = (i * bs) % (n - bs + 1)
            idx = perm[j : j + bs]
            if graphed is not None:
                graphed(idx)
                continue
            x0 = x_all[idx].contiguous(memory_format=memory_format)
            train_step(cfg, fwd, opt, ema, schedule, x0, y_all[idx], g, autocast)
        sync(device)
        return time.perf_counter() - t0

    run(5 if not compile else 10)  # warm-up (compilation, graph capture, cuDNN, allocator)
    return lambda: run(steps)


def naive_runner(cfg: TrainConfig, images, labels, device, steps: int):
    """A textbook loop: DataLoader over a CPU TensorDataset, per-batch copy to the device, fp32,
    default memory format, default Adam, loss.item() logged every step."""
    from torch.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(images.to(torch.float32).div(255.0).unsqueeze(1), labels)
    dl = DataLoader(
        ds, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = cfg.schedule()
    g = torch.Generator(device=device).manual_seed(1)
    model.train()

    def run(k: int) -> float:
        sync(device)
        t0 = time.perf_counter()
        done, log = 0, []
        while done < k:
            for x0, y in dl:
                x0, y = x0.to(device), y.to(device)
                loss = loss_fn(cfg, model, schedule, x0, y, g)
                opt.zero_grad()
                loss.backward()
                opt.step()
                log.append(loss.item())
                done += 1
                if done == k:
                    break
        sync(device)
        return time.perf_counter() - t0

    run(3)
    return lambda: run(steps)


def bench_training(device: torch.device, hidden: int, batch: int, steps: int, rounds: int, n: int,
                   compile_mode: str | None, ema_decay: float = 0.0) -> dict:  # fmt: skip
    cuda = device.type == "cuda"
    cfg = TrainConfig(
        task="class", hidden=hidden, batch_size=batch, epochs=20, lr=1e-3, lr_decay_to=0.1,
        channels_last=True, amp_bf16=True, ema_decay=ema_decay,
    )  # fmt: skip
    images, labels = _digits(n)
    variants = {
        "naive": naive_runner(cfg, images, labels, device, steps),
        "ours": ours_runner(cfg, images, labels, device, steps),
    }
    errors = {}
    if cuda:
        try:  # the whole step as one CUDA graph replay (the fa24 preset's setting)
            cfg_g = TrainConfig(**{**cfg.__dict__, "cuda_graph": True})
            variants["ours_graph"] = ours_runner(cfg_g, images, labels, device, steps)
        except Exception as e:  # report, don't fail the other numbers
            errors["ours_graph"] = f"{type(e).__name__}: {str(e)[:300]}"
    if compile_mode:
        try:
            variants["ours_compiled"] = ours_runner(
                cfg, images, labels, device, steps, compile_mode
            )
        except Exception as e:  # report, don't fail the other numbers
            errors["ours_compiled"] = f"{type(e).__name__}: {str(e)[:300]}"
    if compile_mode and cuda:
        try:  # inductor-fused kernels (no CUDA graphs of its own) inside our whole-step graph
            cfg_g = TrainConfig(**{**cfg.__dict__, "cuda_graph": True})
            variants["ours_compiled_graph"] = ours_runner(
                cfg_g, images, labels, device, steps, "default"
            )
        except Exception as e:
            errors["ours_compiled_graph"] = f"{type(e).__name__}: {str(e)[:300]}"
    secs = interleaved(variants, rounds)
    ips = {k: steps * batch / v for k, v in secs.items()}
    out = {
        "device": str(device),
        "task": "class",
        "hidden": hidden,
        "batch_size": batch,
        "steps_per_round": steps,
        "rounds": rounds,
        "images_per_s": ips,
        "speedup_ours_vs_naive": ips["ours"] / ips["naive"],
        "ours_settings": {
            "channels_last": True,
            "bf16_autocast": bf16_autocast_enabled(cfg.amp_bf16, device),
            "fused_adam": cuda,
            "data_on_device": True,
            "ema_decay": ema_decay,
        },
    }
    if "ours_graph" in ips:
        out["speedup_graph_vs_naive"] = ips["ours_graph"] / ips["naive"]
    if "ours_compiled_graph" in ips:
        out["speedup_compiled_graph_vs_naive"] = ips["ours_compiled_graph"] / ips["naive"]
    if "ours_compiled" in ips:
        out["speedup_compiled_vs_naive"] = ips["ours_compiled"] / ips["naive"]
        out["compile_mode"] = compile_mode
    if errors:
        out["errors"] = errors
    return out


# ----------------------------------------------------------------------------- CFG


@torch.no_grad()
def bench_cfg(device: torch.device, hidden: int, n: int, reps: int, rounds: int) -> dict:
    torch.manual_seed(0)
    model = UNet(1, hidden, time_cond=True, num_classes=10).to(device).eval()
    x = torch.randn(n, 1, 28, 28, device=device)
    t = torch.full((n,), 0.5, device=device)
    c = torch.arange(n, device=device) % 10
    u = torch.full_like(c, -1)

    def timed(fn):
        def run():
            fn()
            sync(device)
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            sync(device)
            return time.perf_counter() - t0

        return run

    def two():
        return ddpm.cfg(model(x, t, u), model(x, t, c), 5.0)

    def batched():
        return ddpm.cfg_batched(model, x, t, c, u, 5.0)

    def chunked():  # what the samplers run on a CPU: the batched forward in row chunks
        net = functools.partial(forward_chunked, model, max_rows=CPU_MAX_ROWS)
        return ddpm.cfg_batched(net, x, t, c, u, 5.0)

    variants = {"two_forwards": timed(two), "batched": timed(batched)}
    chunks = device.type == "cpu" and 2 * n > CPU_MAX_ROWS
    if chunks:
        variants["batched_chunked"] = timed(chunked)
    max_diff = float((two() - batched()).abs().max())
    secs = interleaved(variants, rounds)
    out = {
        "device": str(device),
        "hidden": hidden,
        "batch": n,
        "reps_per_round": reps,
        "seconds_per_eps": {k: v / reps for k, v in secs.items()},
        "speedup_batched_vs_two": secs["two_forwards"] / secs["batched"],
        "max_abs_diff": max_diff,
    }
    if chunks:
        out["max_rows"] = CPU_MAX_ROWS
        out["speedup_batched_chunked_vs_two"] = secs["two_forwards"] / secs["batched_chunked"]
        out["speedup_batched_chunked_vs_batched"] = secs["batched"] / secs["batched_chunked"]
        out["max_abs_diff_chunked"] = float((chunked() - batched()).abs().max())
    return out


# ----------------------------------------------------------------------------- fa24 Part B


def _fa24_mnist() -> tuple[torch.Tensor, torch.Tensor, str]:
    """torchvision MNIST if it is already on disk (resources/mnist), else random digits."""
    try:
        from torchvision.datasets import MNIST

        ds = MNIST(str(REPO / "resources/mnist"), train=True, download=False)
        return ds.data.clone(), ds.targets.clone(), "torchvision MNIST (60,000 train digits)"
    except Exception:
        images, labels = _digits(FA24_NUM_TRAIN, seed=1)
        return images, labels, "random uint8 digits (MNIST not on disk; same count and shapes)"


def bench_fa24_partb(device: torch.device, compile: str | None, cuda_graph: bool = True) -> dict:
    """fundiff.diffusion.train.train on the three fa24 trainings with the fa24 preset's speed settings
    (channels_last, bf16 autocast, whole-step CUDA graphs); epoch checkpoints written as usual."""
    images, labels, data_note = _fa24_mnist()
    cuda = device.type == "cuda"
    out = {
        "device": str(device),
        "data": data_note,
        "compile": compile,
        "cuda_graph": cuda_graph and cuda,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, kw in FA24_PARTB.items():
            cfg = TrainConfig(
                **kw, channels_last=True, amp_bf16=cuda, cuda_graph=cuda_graph, seed=180
            )
            sync(device)
            t0 = time.perf_counter()
            hist = train(cfg, images, labels, Path(tmp) / name, device, False, compile)
            sync(device)
            secs = time.perf_counter() - t0
            out["models"][name] = {
                "seconds": secs,
                "steps": len(hist),
                "steps_per_s": len(hist) / secs,
                "final_epoch_mean_loss": statistics.fmean(
                    h["loss"] for h in hist if h["epoch"] == cfg.epochs
                ),
                **{k: kw[k] for k in ("hidden", "batch_size", "epochs")},
            }
    out["total_seconds"] = sum(m["seconds"] for m in out["models"].values())
    return out


# ----------------------------------------------------------------------------- pipeline


def bench_pipeline(threads_variant: bool = False) -> dict:
    """Cold `snakemake --cores all` (embedded preset) in a temp copy, then an up-to-date dry run.

    ``threads_variant``: a second cold run (fresh copy) with every training at 1 thread
    (`--set-threads train=1`), so the three trainings run side by side instead of one after
    another with all cores each; compare cold_seconds with cold_seconds_train_1_thread."""
    out = _pipeline_run([("cold_seconds", []), ("dry_run_seconds", ["-n"])])
    if threads_variant:
        out.update(_pipeline_run([("cold_seconds_train_1_thread", ["--set-threads", "train=1"])]))
    out["cores"] = os.cpu_count()
    return out


def _pipeline_run(runs: list) -> dict:
    skip = shutil.ignore_patterns(
        ".git", ".venv", ".snakemake", "results", "logs", "resources", "benchmarks", "tests",
        "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info", ".whl", ".gl",
    )  # fmt: skip
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp) / "workflow"
        shutil.copytree(REPO, wd, ignore=skip, symlinks=True)  # the repo without run state
        env = {**os.environ, "PYTHONPATH": str(wd / "src")}
        cmd = [sys.executable, "-m", "snakemake", "--cores", "all"]
        for key, extra in runs:
            t0 = time.perf_counter()
            proc = subprocess.run(cmd + extra, cwd=wd, env=env, capture_output=True, text=True)
            out[key] = time.perf_counter() - t0
            if proc.returncode:
                raise RuntimeError(f"snakemake {extra} failed:\n{proc.stderr[-3000:]}")
        summary = wd / "results/eval/summary.json"
        if summary.exists():
            s = json.loads(summary.read_text())
            out["eval"] = {"class_cond": s.get("class_cond"), "classifier": s.get("classifier")}
    return out


# ----------------------------------------------------------------------------- table rows


def table_rows(d: dict) -> list[dict]:
    """The report's table rows of a result of this script (benchmarks/_rows.py): one per
    training variant, CFG variant, fa24 run and pipeline timing."""
    machine = machine_text(d.get("machine"))
    devices = [e.get("device", "") for e in d.get("training", []) + d.get("cfg", [])]
    m = d.get("machine")
    if (
        isinstance(m, dict)
        and not m.get("cuda")
        and any(str(x).startswith("cuda") for x in devices)
    ):  # older results: the GPU's name was recorded only when the CPU was measured too
        machine = f"CUDA GPU, model not recorded / {machine}"
    quick = " (quick: tiny sizes)" if d.get("quick") else ""
    rows = []
    for tr in d.get("training", []):
        ips = tr.get("images_per_s", {})
        dev = f"{tr.get('device', '?')}, D={tr.get('hidden')}, batch {tr.get('batch_size')}"
        settings = tr.get("ours_settings", {})
        on = ", ".join(k for k, v in settings.items() if v) or "plain"
        mode = f"torch.compile mode {tr.get('compile_mode', 'default')}"
        for variant, label, note in (
            ("ours", "ours vs naive loop", f"ours: {on}"),
            ("graph", "ours as one CUDA graph per step vs naive", "partb.cuda_graph"),
            ("compiled", "ours + torch.compile vs naive", mode),
            ("compiled_graph", "ours + torch.compile, CUDA graph vs naive", mode),
        ):
            key = "ours" if variant == "ours" else f"ours_{variant}"
            ratio = tr.get(f"speedup_{variant}_vs_naive")
            if not isinstance(ratio, (int, float)):
                continue
            value = f"{ips.get(key, 0):.0f} vs {ips.get('naive', 0):.0f} images/s"
            rows.append(row("training throughput" + quick, machine, dev, label, value, ratio, note))
    for cf in d.get("cfg", []):
        sec = cf.get("seconds_per_eps", {})
        dev = f"{cf.get('device', '?')}, D={cf.get('hidden')}, {cf.get('batch')} digits"
        chunked_note = f"{cf.get('speedup_batched_chunked_vs_batched', 0):.2f}x one batched forward"
        for variant, label, note in (
            ("batched", "batched vs two forwards",
             f"max |diff| {cf.get('max_abs_diff', float('nan')):.1e}"),
            ("batched_chunked", f"batched in chunks of {cf.get('max_rows')} rows vs two forwards",
             chunked_note),
        ):  # fmt: skip
            ratio = cf.get(f"speedup_{variant}_vs_two")
            if not isinstance(ratio, (int, float)):
                continue
            value = f"{1e3 * sec.get(variant, 0):.2f} vs {1e3 * sec.get('two_forwards', 0):.2f} ms"
            rows.append(row("CFG noise estimate" + quick, machine, dev, label, value, ratio, note))
    for key in ("fa24_partb", "fa24_partb_compiled"):
        fa = d.get(key)
        if not isinstance(fa, dict):
            continue
        label = "fa24 Part B trainings" + (" (torch.compile)" if "compiled" in key else "")
        if "error" in fa:
            rows.append(row(label, machine, note=f"failed: {str(fa['error'])[:120]}"))
        elif isinstance(fa.get("total_seconds"), (int, float)):
            value = f"{fa['total_seconds']:.0f} s for {len(fa.get('models', {}))} models"
            rows.append(row(label, machine, str(fa.get("device", "")), value=value))
    pipe = d.get("pipeline") or {}
    for key, text in (
        ("cold_seconds", "cold snakemake --cores all"),
        ("dry_run_seconds", "up-to-date dry run"),
        ("cold_seconds_train_1_thread", "cold run, trainings at 1 thread each"),
    ):
        if isinstance(pipe.get(key), (int, float)):
            rows.append(row("pipeline (embedded preset)", machine, "", text, f"{pipe[key]:.1f} s"))
    return rows


# ----------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    ap.add_argument("--fa24-partb", action="store_true", help="time the three fa24 trainings")
    ap.add_argument("--fa24-eager", action="store_true",
                    help="fa24: without whole-step CUDA graphs (compare with --fa24-partb)")  # fmt: skip
    ap.add_argument("--pipeline", action="store_true", help="cold + dry-run snakemake (long)")
    ap.add_argument("--pipeline-threads", action="store_true",
                    help="+ a cold run with 1 thread per training (twice as long)")  # fmt: skip
    ap.add_argument("--compile", action="store_true", help="throughput: also torch.compile (CUDA)")
    ap.add_argument("--fa24-compile", action="store_true", help="fa24: a torch.compile run")
    ap.add_argument(
        "--compile-mode",
        default="reduce-overhead",
        help="torch.compile mode (reduce-overhead = CUDA graphs; 'default' for plain compile)",
    )
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU sections on a GPU box")
    ap.add_argument("--cpu-only", action="store_true", help="skip CUDA even if visible")
    ap.add_argument("--name", help="results file name (default quick / full)")
    ap.add_argument("--out-dir", default=str(REPO / "benchmarks/results"))
    args = ap.parse_args(argv)
    if args.quick and args.pipeline:
        ap.error("--pipeline is the long benchmark; run it without --quick")

    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
        if args.no_cpu:
            devices = devices[1:]
    mode = None if args.compile_mode == "default" else args.compile_mode
    result = {
        "name": args.name or ("quick" if args.quick else "full"),
        "quick": args.quick,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_model": cpu_model_name(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0)
            if any(d.type == "cuda" for d in devices)
            else None,
        },
        "note": "ratios are measured side by side (interleaved rounds, median); absolute numbers "
        "depend on machine load",
        "training": [],
        "cfg": [],
    }
    t_start = time.perf_counter()
    out_dir = Path(args.out_dir)

    def save() -> str:
        """Write the results so far (after every section: a killed run keeps what it measured)."""
        result["benchmark_seconds"] = time.perf_counter() - t_start
        add_rows(result, table_rows(result))
        out_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=1)
        tmp = out_dir / f".{result['name']}.json.tmp"
        tmp.write_text(text + "\n")
        tmp.replace(out_dir / f"{result['name']}.json")
        return text

    for dev in devices:
        if args.quick:
            tr = dict(hidden=8, batch=32, steps=4, rounds=2, n=512)
            cfs = [dict(hidden=8, n=n, reps=2, rounds=2) for n in (2, 40)]
        elif dev.type == "cuda":
            tr = dict(hidden=64, batch=128, steps=200, rounds=3, n=60_000)
            cfs = [dict(hidden=64, n=n, reps=50, rounds=3) for n in (5, 400)]
        else:
            tr = dict(hidden=32, batch=64, steps=20, rounds=3, n=4_000)
            # batch sizes the pipeline samples at: Part A (1 image, 5 samples), Part B grids (40),
            # the evaluation's CFG sweep (100)
            cfs = [dict(hidden=32, n=n, reps=max(5, 200 // n), rounds=3) for n in (1, 5, 40, 100)]
        compile_mode = (mode or "default") if args.compile and dev.type == "cuda" else None
        result["training"].append(bench_training(dev, **tr, compile_mode=compile_mode))
        save()
        for cf in cfs:
            result["cfg"].append(bench_cfg(dev, **cf))
            save()
    if args.fa24_partb:
        try:
            result["fa24_partb"] = bench_fa24_partb(devices[-1], compile=None)
        except Exception as e:
            result["fa24_partb"] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        save()
    if args.fa24_eager:
        result["fa24_partb_eager"] = bench_fa24_partb(devices[-1], None, cuda_graph=False)
        save()
    if args.fa24_compile and devices[-1].type == "cuda":
        try:
            result["fa24_partb_compiled"] = bench_fa24_partb(devices[-1], mode or "default")
        except Exception as e:
            result["fa24_partb_compiled"] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        save()
    if args.pipeline:
        result["pipeline"] = bench_pipeline(args.pipeline_threads)
    print(save())
    return result


if __name__ == "__main__":
    main()
