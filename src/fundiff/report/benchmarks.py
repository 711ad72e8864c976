"""The committed speed benchmarks (``benchmarks/results/*.json``) as one table for the report.

Each file is recognised by its *structure*, not its name, so files added later are picked up:

* ``training`` / ``cfg`` lists (``benchmarks/run.py``): our training loop vs the textbook one,
  batched CFG vs two forwards, per device (+ ``torch.compile`` when measured); ``pipeline``
  (cold ``snakemake --cores all`` and an up-to-date dry run) and ``fa24_partb*`` when present
* ``benchmark: tune_class_cond``: accuracy / FD ratio per training setting (tune_class_cond.py)
* ``benchmark: embedded_pipeline_cold``: one cold run of the embedded preset (wall seconds)
* ``benchmark: hybrid_sweep`` (``benchmarks/hybrid_sweep.py``): the best A1.9 setting
* ``benchmark: cold_run`` (``benchmarks/cold_run.py``): a cold run with its measured layout,
  per-rule seconds and final scores
* ``benchmark: if_rehearsal`` (``benchmarks/if_rehearsal.py``): every Part A rule on DeepFloyd
  IF with random weights at real UNet size: wall time, slowest jobs, largest peak memory
* ``workflow_s`` / ``baseline_s`` / ``ratio`` (+ ``*_peak_mib``): dry-run overhead
  (``benchmarks/dryrun_overhead.py``)
* ``cfg_batched_step_s`` / ``cfg_two_forwards_step_s``: one IF UNet step
  (``benchmarks/if_unet_step.py``)
* anything else with top-level ``speedup_*`` numbers: one row per speedup

A file matching none of these (or not valid JSON) gives no rows and a note saying why; it
never fails the build. Rows: {file, benchmark, machine, device, variants, value, ratio, note}.
``table_data`` lays them out for the report, each machine's rows together (the report shows
the machine once, as a heading row).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

COLUMNS = ["file", "benchmark", "machine", "device", "variants", "value", "ratio", "note"]


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def machine_text(m) -> str:
    """A short description of the machine block (dict) or string."""
    if isinstance(m, str):
        return m
    if not isinstance(m, dict):
        return ""
    cpus = m.get("cpus", m.get("cpu_count", m.get("cores")))
    cpu = m.get("cpu") or m.get("cpu_model") or "CPU"
    parts = [f"{cpu}, {cpus} cores" if cpus else cpu]
    if m.get("cuda"):
        parts.insert(0, str(m["cuda"]))
    return " / ".join(parts)


def _row(file, benchmark, machine="", device="", variants="", value="", ratio=None, note=""):
    return {
        "file": file,
        "benchmark": benchmark,
        "machine": machine,
        "device": device,
        "variants": variants,
        "value": value,
        "ratio": _num(ratio),
        "note": note,
    }


def _run_py(name: str, d: dict) -> list[dict]:
    machine = machine_text(d.get("machine"))
    devices = [e.get("device", "") for e in d.get("training", []) + d.get("cfg", [])]
    m = d.get("machine")
    if (
        isinstance(m, dict)
        and not m.get("cuda")
        and any(str(x).startswith("cuda") for x in devices)
    ):
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
            if _num(tr.get(f"speedup_{variant}_vs_naive")) is None:
                continue
            rows.append(
                _row(
                    name,
                    "training throughput" + quick,
                    machine,
                    dev,
                    label,
                    f"{ips.get(key, 0):.0f} vs {ips.get('naive', 0):.0f} images/s",
                    tr[f"speedup_{variant}_vs_naive"],
                    note,
                )
            )
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
            if _num(cf.get(f"speedup_{variant}_vs_two")) is None:
                continue
            rows.append(
                _row(
                    name,
                    "CFG noise estimate" + quick,
                    machine,
                    dev,
                    label,
                    f"{1e3 * sec.get(variant, 0):.2f} vs {1e3 * sec.get('two_forwards', 0):.2f} ms",
                    cf[f"speedup_{variant}_vs_two"],
                    note,
                )
            )
    for key in ("fa24_partb", "fa24_partb_compiled"):
        fa = d.get(key)
        if not isinstance(fa, dict):
            continue
        label = "fa24 Part B trainings" + (" (torch.compile)" if "compiled" in key else "")
        if "error" in fa:
            rows.append(_row(name, label, machine, note=f"failed: {str(fa['error'])[:120]}"))
        elif _num(fa.get("total_seconds")) is not None:
            rows.append(
                _row(
                    name,
                    label,
                    machine,
                    str(fa.get("device", "")),
                    value=f"{fa['total_seconds']:.0f} s for {len(fa.get('models', {}))} models",
                )
            )
    pipe = d.get("pipeline")
    if isinstance(pipe, dict):
        for key, text in (
            ("cold_seconds", "cold snakemake --cores all"),
            ("dry_run_seconds", "up-to-date dry run"),
            ("cold_seconds_train_1_thread", "cold run, trainings at 1 thread each"),
        ):
            if _num(pipe.get(key)) is not None:
                rows.append(
                    _row(
                        name, "pipeline (embedded preset)", machine, "", text, f"{pipe[key]:.1f} s"
                    )
                )
    return rows


def _cold_run(name: str, machine: str, d: dict) -> list[dict]:
    """benchmarks/cold_run.py: wall time, the measured layout and the final scores."""
    choice = (d.get("calibration") or {}).get("choice", {})
    layout = ", ".join(
        [
            "training bf16" if choice.get("amp_bf16") else "training fp32",
            f"{choice.get('threads', '?')} thread(s) per training",
            "sampling bf16" if choice.get("sample_bf16") else "sampling fp32",
            f"{choice.get('sample_threads', '?')} thread(s) per sampling job",
        ]
    )
    q = d.get("quality") or {}
    cc, tc = q.get("class_cond") or {}, q.get("time_cond") or {}
    notes = [str(d["conditions"])] if d.get("conditions") else []  # e.g. measured under load
    notes.append(f"{d.get('jobs', '?')} jobs")
    if _num(cc.get("accuracy")) is not None:
        notes.append(
            f"class_cond at CFG {cc.get('guidance_scale', '?'):g}: {cc['accuracy']:.1%} right, "
            f"FD ratio {cc.get('fd_ratio', float('nan')):.2f} (n = {cc.get('n')})"
        )
    if _num(tc.get("confidence")) is not None:
        notes.append(
            f"time_cond: confidence {tc['confidence']:.2f}, entropy "
            f"{tc.get('class_entropy', float('nan')):.2f}, FD ratio "
            f"{tc.get('fd_ratio', float('nan')):.2f} (n = {tc.get('n')})"
        )
    notes += _job_notes(d)
    return [
        _row(
            name,
            "pipeline cold run",
            machine,
            "cpu",
            f"{d.get('command', 'snakemake --cores all')}; {layout}",
            f"{d['wall_seconds']:.0f} s",
            note="; ".join(notes),
        )
    ]


def _job_notes(d: dict) -> list[str]:
    """The three slowest jobs and the largest job's peak memory of a Snakemake run's record
    (``rule_seconds`` / ``rule_peak_rss_mb``: job -> seconds / MB), as notes."""
    notes = []
    slowest = sorted((d.get("rule_seconds") or {}).items(), key=lambda kv: -kv[1])[:3]
    if slowest:
        notes.append("slowest: " + ", ".join(f"{k} {v:.0f} s" for k, v in slowest))
    peaks = d.get("rule_peak_rss_mb") or {}
    if peaks:
        job = max(peaks, key=peaks.get)
        notes.append(f"largest job peak memory {peaks[job]:.0f} MB ({job})")
    return notes


def _if_rehearsal(name: str, machine: str, d: dict) -> list[dict]:
    """benchmarks/if_rehearsal.py: the Snakemake run of every Part A rule on the real-size IF
    UNets (random weights): total wall time, the slowest jobs and the largest peak memory."""
    params = d.get("parameters") or {}
    sizes = ", ".join(
        f"{label} {params[key] / 1e9:.2f} B"
        for key, label in (("stage1.unet", "IF-I-L"), ("stage2.unet", "IF-II-L"))
        if _num(params.get(key))
    )
    device = f"{d.get('device', '?')}, {sizes or 'sizes not recorded'}"
    if d.get("t5_layers"):
        device += f", T5 width 4096 ({d['t5_layers']} layer(s))"
    conditions = d.get("conditions") or {}
    note = conditions.get("note") if isinstance(conditions, dict) else str(conditions)
    notes = [note] if note else []
    notes.append(f"{d.get('jobs', '?')} jobs")
    notes += _job_notes(d)
    if _num(d.get("run_peak_rss_mb_polled")):
        notes.append(f"all processes at once at most {d['run_peak_rss_mb_polled']:.0f} MB")
    if _num(d.get("gpu_peak_memory_used_mib")) is not None:
        notes.append(f"GPU memory in use at most {d['gpu_peak_memory_used_mib']:.0f} MiB")
    what = "full preset" if d.get("full_preset") else "CPU overlay"
    return [
        _row(
            name,
            f"DeepFloyd IF rehearsal, every Part A rule ({what}, random weights)",
            machine,
            device,
            d.get("command", "snakemake parta_all"),
            f"{d['wall_seconds']:.0f} s",
            note="; ".join(notes),
        )
    ]


def summarize(path: str | os.PathLike) -> tuple[list[dict], str | None]:
    """(rows, note) for one results file; ``note`` says why a file gave no rows."""
    path = Path(path)
    name = path.name
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return [], f"{name}: not readable JSON ({type(e).__name__}); skipped"
    if not isinstance(d, dict):
        return [], f"{name}: not a JSON object; skipped"
    machine = machine_text(d.get("machine"))
    if "training" in d or "cfg" in d:
        rows = _run_py(name, d)
    elif d.get("benchmark") == "embedded_pipeline_cold" and _num(d.get("wall_seconds")):
        acc = (d.get("class_cond_cfg5") or {}).get("accuracy")
        note = f"{d.get('jobs', '?')} jobs" + (f"; class_cond accuracy {acc:.3f}" if acc else "")
        rows = [
            _row(
                name,
                "pipeline cold run (embedded preset)",
                machine,
                "cpu",
                "snakemake --cores all",
                f"{d['wall_seconds']:.0f} s",
                note=note,
            )
        ]
    elif d.get("benchmark") == "hybrid_sweep" and isinstance(d.get("best"), dict):
        b = d["best"]
        pairs = ", ".join(f"{k} {v['both']:.0%}" for k, v in (b.get("pairs") or {}).items())
        rows = [
            _row(
                name,
                "hybrid images (A1.9) setting sweep",
                machine,
                "cpu",
                f"best of {len(d.get('settings', []))}: kernel {b.get('kernel_size')}, sigma "
                f"{b.get('sigma')}, CFG {b.get('guidance_scale')}, stride {b.get('stride')}",
                f"worst pair {b.get('min_both', 0):.0%} both views",
                note=f"n = {d.get('n_per_pair')} per pair: {pairs}",
            )
        ]
    elif d.get("benchmark") == "cold_run" and _num(d.get("wall_seconds")):
        rows = _cold_run(name, machine, d)
    elif d.get("benchmark") == "if_rehearsal" and _num(d.get("wall_seconds")):
        rows = _if_rehearsal(name, machine, d)
    elif all(_num(d.get(k)) is not None for k in ("workflow_s", "baseline_s", "ratio")):
        rows = [
            _row(
                name,
                "dry-run overhead (tiny preset)",
                machine,
                "",
                "workflow -n vs one-rule Snakefile -n",
                f"{d['workflow_s']:.2f} vs {d['baseline_s']:.2f} s",
                d["ratio"],
                "; ".join(
                    n
                    for n in (
                        f"target <= {d['target_ratio']}" if _num(d.get("target_ratio")) else "",
                        f"peak memory {d['workflow_peak_mib']:.0f} vs "
                        f"{d['baseline_peak_mib']:.0f} MiB (target <= {d['target_peak_mib']})"
                        if all(
                            _num(d.get(k))
                            for k in ("workflow_peak_mib", "baseline_peak_mib", "target_peak_mib")
                        )
                        else "",
                    )
                    if n
                ),
            )
        ]
    elif all(_num(d.get(k)) for k in ("cfg_batched_step_s", "cfg_two_forwards_step_s")):
        loop = _num(d.get("loop_per_step_s"))
        rows = [
            _row(
                name,
                f"IF UNet step ({d.get('config', '?')})",
                str(d.get("device", "")),
                f"{d.get('dtype', '')}, batch {d.get('batch', '?')}",
                "CFG batched vs two forwards",
                f"{1e3 * d['cfg_batched_step_s']:.1f} vs {1e3 * d['cfg_two_forwards_step_s']:.1f} ms",
                d.get(
                    "speedup_batched_vs_two", d["cfg_two_forwards_step_s"] / d["cfg_batched_step_s"]
                ),
                f"33-step loop {1e3 * loop:.1f} ms/step" if loop else "",
            )
        ]
    elif d.get("benchmark") == "tune_class_cond" and isinstance(d.get("variants"), dict):
        rows = [
            _row(
                name,
                f"class_cond tuning (CFG {d.get('scale', '?')}, FD of {d.get('n', '?')} digits)",
                str(d.get("device", "")),
                f"{v['steps']} steps",
                k,
                f"accuracy {v['acc_big_mean']:.3f}, FD ratio {v['fd_ratio_mean']:.2f} "
                f"+- {v['fd_ratio_std']:.2f}",
                note=f"FD ratio <= 2 in {100 * v['fd_ratio_le_2']:.0f}% of "
                f"{sum(len(r['fd_ratio_n']) for r in v['runs'])} draws",
            )
            for k, v in d["variants"].items()
            if all(_num(v.get(x)) is not None for x in ("acc_big_mean", "fd_ratio_mean"))
        ]
    elif d.get("check") == "cuda_graph_vs_eager" and _num(d.get("max_abs_loss_diff")) is not None:
        rows = [
            _row(
                name,
                "CUDA-graph training step vs eager (correctness)",
                str(d.get("device", "")),
                f"torch {d.get('torch', '?')}",
                f"{d.get('steps', '?')} steps, same seed",
                f"max |loss diff| {d['max_abs_loss_diff']:.1e}",
                note=f"max |weight diff| {_num(d.get('max_abs_weight_diff')) or 0:.1e}",
            )
        ]
    else:
        speedups = {k: v for k, v in d.items() if k.startswith("speedup_") and _num(v) is not None}
        rows = [
            _row(
                name,
                str(d.get("benchmark", d.get("name", path.stem))),
                machine,
                str(d.get("device", "")),
                k.removeprefix("speedup_").replace("_", " "),
                ratio=v,
            )
            for k, v in speedups.items()
        ]
    if not rows:
        return [], f"{name}: structure not recognised (keys: {', '.join(list(d)[:8])}); skipped"
    return rows, None


def summarize_all(paths) -> tuple[list[dict], list[str]]:
    """Rows of every file (sorted by name) and the notes of the files that gave none."""
    rows, notes = [], []
    for p in sorted(map(Path, paths), key=lambda p: p.name):
        r, note = summarize(p)
        rows += r
        if note:
            notes.append(note)
    return rows, notes


# The report's table: (column header, row key). The report groups a data table by its
# "machine" column (fundiff.report.render.GROUP_BY): one heading row per machine, the column dropped.
TABLE_COLUMNS = [
    ("machine", "machine"),
    ("benchmark", "benchmark"),
    ("device / size", "device"),
    ("variants", "variants"),
    ("values", "value"),
    ("ratio", "ratio"),
    ("note", "note"),
    ("file", "file"),
]


def by_machine(rows: list[dict]) -> list[dict]:
    """The rows with each machine's rows together: machines in order of first appearance, rows
    in their order within a machine (files sorted by name, rows as each file gives them)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["machine"], []).append(r)
    return [r for g in groups.values() for r in g]


def table_data(rows: list[dict]) -> dict:
    """The ``data`` of the report's benchmark table spec (fundiff.report.tables): grouped by machine."""
    return {
        "columns": [c for c, _ in TABLE_COLUMNS],
        "rows": [[r[k] for _, k in TABLE_COLUMNS] for r in by_machine(rows)],
    }


CAPTION = (
    "Read from the committed benchmarks/results/*.json. Every ratio compares two variants run "
    "interleaved on the same machine (A B A B ..., median round), so load from other processes "
    "hits both; ratio > 1 means the first variant is faster (for the dry-run overhead: how much "
    "slower the workflow's dry run is than bare Snakemake). Absolute numbers depend on the "
    "machine and its load. Rows are grouped by the machine they were measured on."
)


def table_caption(n_files: int, notes: list[str]) -> str:
    """The benchmark table's caption: how to read it, + a missing-files or skipped-files note."""
    caption = CAPTION
    if not n_files:
        caption += " No results files were found in this checkout."
    if notes:
        caption += " Skipped: " + "; ".join(notes) + "."
    return caption
