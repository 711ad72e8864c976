"""Real-size DeepFloyd IF rehearsal on local random weights (issue 15, item 6).

    python benchmarks/if_rehearsal.py build [--dest resources/if_rehearsal] [--t5-layers 1]
    python benchmarks/if_rehearsal.py run   [--dest resources/if_rehearsal] [--device cpu]
                                            [--full] [--name NAME] [--keep DIR]

``build`` writes two pipeline folders laid out like the hub repositories, with random weights
and the real architectures, so that the deepfloyd backend can be exercised at full size without
the gated weights:

* ``stage1/`` like DeepFloyd/IF-I-L-v1.0: model_index.json (IFPipeline), unet/ (the IF-I-L
  UNet config, :data:`IF_I_L_UNET`), scheduler/ (IF's DDPMScheduler), text_encoder/ (a T5
  v1.1-XXL encoder with the real vocab_size 32128 and d_model 4096 but only ``--t5-layers``
  blocks: the UNets see nothing but its [77, 4096] output), tokenizer/ (an offline Unigram
  T5 tokenizer of 32,000 pieces + 100 sentinels, T5's 32,100 ids);
* ``stage2/`` like DeepFloyd/IF-II-L-v1.0: model_index.json (IFSuperResolutionPipeline),
  unet/ (:data:`IF_II_L_UNET`, 64 -> 256 px), scheduler/, image_noising_scheduler/,
  tokenizer/.

Weights are saved as the hub has them: ``diffusion_pytorch_model.fp16.safetensors`` /
``model.fp16.safetensors`` (variant fp16); no safety checker, feature extractor or watermarker
(the backend never loads them). The UNet config fields not published anywhere we could read
are listed in :data:`INFERRED` and copied into the result JSON. ``build`` also writes
``build.json`` (parameter counts, bytes, seconds) into the folder.

``run`` copies the repository without run state into a temp folder (as benchmarks/cold_run.py
does) and runs ``snakemake parta_all --configfile configs/deepfloyd.yaml <overlay>`` there,
timed; the overlay points the backend at the built folders (``local_files_only``, variant
fp16). On the CPU (default) the overlay also cuts the work (:func:`cpu_overlay`: one A0
prompt, a strided list of 3 steps, one image per section, one pair per illusion) so that every
Part A rule -- fetch_models, encode_prompts, parta_image, parta_a0 (stage I + stage II at
256 px), forward / blur / one_step, iterative, sample, cfg, sdedit (x3), inpaint, anagram,
hybrid, parta_table -- runs once at real UNet size within the 2-core machines' memory.
Jobs that load a model run one at a time (``--resources mem_mb``), so every job's wall time
and peak memory are its own. The result, benchmarks/results/if_rehearsal_<device>_<slug>.json,
holds per-job wall seconds, CPU seconds and peak resident memory (Snakemake ``benchmark:``
files: s, cpu_time, max_rss; CPU seconds well below wall seconds mean the job waited for a
core other processes held), the total wall time, the CPU model, torch / diffusers / transformers versions,
parameter counts, the model folders' disk size and the inferred config fields.

``--device cuda --full`` (UNTESTED: no GPU was lent to this task) runs the full preset instead
(every prompt, image and step count of configs/deepfloyd.yaml, fp16 weights on the GPU) and
polls ``nvidia-smi`` every 0.5 s for the peak GPU memory in use (all processes, so one number
per run, not per job: ``torch.cuda.max_memory_allocated`` of a job is not reachable from
outside it). The full preset's url: image (the Campanile) needs network access.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _rows import add_rows, job_notes, machine_text, row  # noqa: E402
from cold_run import copy_repo, cpu_model, git_describe, rule_benchmarks  # noqa: E402
from if_unet_step import IF_I_XL  # noqa: E402

DEST = REPO / "resources" / "if_rehearsal"

# IF-I-XL-v1.0's UNet config (deepfloyd-facts.md §1.6, from its unet/config.json) with the
# width of IF-I-L: model_channels 320 (block_out_channels 320 x [1, 2, 3, 4], encoder_channels
# = cross_attention_dim 4 x 320, as 2816 = 4 x 704 in XL). See INFERRED.
IF_I_L_UNET = {
    **IF_I_XL,
    "block_out_channels": [320, 640, 960, 1280],
    "cross_attention_dim": 1280,
    # the rest of unet/config.json: diffusers' defaults, written out as the hub file has them
    "class_embed_type": None,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "only_cross_attention": False,
    "upcast_attention": False,
    "use_linear_projection": False,
}

# IF-II-L-v1.0's UNet (deepfloyd-facts.md §1.6: a fine-tune's unet/config.json whose
# _name_or_path is DeepFloyd/IF-II-L-v1.0; the tail was cut off, see INFERRED).
IF_II_L_UNET = {
    "act_fn": "gelu",
    "addition_embed_type": "text",
    "addition_embed_type_num_heads": 64,
    "attention_head_dim": 64,
    "block_out_channels": [160, 320, 640, 960, 1280],
    "class_embed_type": "timestep",
    "cross_attention_dim": 1280,
    "cross_attention_norm": "group_norm",
    "down_block_types": [
        "ResnetDownsampleBlock2D",
        "ResnetDownsampleBlock2D",
        "ResnetDownsampleBlock2D",
        "SimpleCrossAttnDownBlock2D",
        "SimpleCrossAttnDownBlock2D",
    ],
    "encoder_hid_dim": 4096,
    "encoder_hid_dim_type": "text_proj",
    "in_channels": 6,
    "layers_per_block": [2, 2, 3, 5, 5],
    "mid_block_scale_factor": 1.4142271248762552,
    "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
    "only_cross_attention": False,
    "out_channels": 6,
    "resnet_out_scale_factor": 1.4142271248762552,
    "resnet_skip_time_act": True,
    "resnet_time_scale_shift": "scale_shift",
    "sample_size": 256,
    "time_embedding_act_fn": "gelu",
    "time_embedding_dim": 1280,
    "up_block_types": [
        "SimpleCrossAttnUpBlock2D",
        "SimpleCrossAttnUpBlock2D",
        "ResnetUpsampleBlock2D",
        "ResnetUpsampleBlock2D",
        "ResnetUpsampleBlock2D",
    ],
}

# T5 v1.1-XXL (the encoder of every IF repository) but shallow: layers are set by --t5-layers.
T5_XXL = {
    "vocab_size": 32128,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
    "layer_norm_epsilon": 1e-6,
    "dropout_rate": 0.0,
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}

# IF's schedulers (deepfloyd-facts.md §1.7; diffusers scripts/convert_if.py): stage I
# sample_max_value 1.5, stage II 1.0, stage II's image noising scheduler all defaults but cosine.
IF_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "thresholding": True,
    "dynamic_thresholding_ratio": 0.95,
    "prediction_type": "epsilon",
    "variance_type": "learned_range",
}

INFERRED = {
    "stage1.unet": {
        "block_out_channels": "IF-I-L's unet/config.json is not public where we could read it: "
        "model_channels 320 x channel_mult [1, 2, 3, 4] gives 0.935 B parameters, the card's "
        "'900M' (IF-I-XL: 704 -> 4.305 B)",
        "cross_attention_dim": "4 x model_channels (encoder_channels), as in IF-I-XL",
        "every other field": "taken from IF-I-XL-v1.0's config (same code and config.yml keys "
        "in the IF family; only the width differs between M / L / XL, by assumption)",
    },
    "stage2.unet": {
        "sample_size": "256 (diffusers convert_if.py: image_size of the stage II config.yml)",
        "up_block_types": "mirror of down_block_types (convert_if.py builds both from "
        "attention_resolutions); 1.243 B parameters, the card's '1.2B'",
        "time_embedding_dim": "model_channels x channel_mult[-1] = 1280 (convert_if.py)",
        "time_embedding_act_fn": "gelu (convert_if.py sets it for every super-resolution UNet)",
        "only_cross_attention": "false (convert_if.py: bool(disable_self_attentions) of the "
        "config.yml, false in the IF configs seen; true would give 1.184 B parameters)",
    },
    "stage1.text_encoder": {
        "num_layers": "shallow on purpose (--t5-layers; T5 v1.1-XXL has 24): the UNets only "
        "see its [77, 4096] output; vocab_size, d_model, d_kv, d_ff, heads are XXL's",
    },
    "stage1.tokenizer": {
        "vocabulary": "a Unigram tokenizer built offline (prompt words, letters, 2- and "
        "3-letter pieces up to 32,000 pieces) + 100 sentinel tokens: T5's 32,100 ids, "
        "not T5's SentencePiece model",
    },
}

# Words the tokenizer keeps whole (the presets' prompts and a few more).
WORDS = (
    "a an the of photo high quality oil painting snowy mountain village man wearing hat rocket "
    "ship people around campfire old lithograph waterfalls skull dog pencil amalfi coast cost "
    "in on with and at by for to from is are this that"
).split()
N_PIECES = 32000  # SentencePiece pieces of T5's tokenizer (+ 100 sentinels = 32,100 ids)


# ------------------------------------------------------------------------------------ build


def tokenizer():
    """An offline T5-compatible fast tokenizer with T5's 32,100 ids (see INFERRED)."""
    from itertools import product
    from string import ascii_lowercase, digits

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -8.0)]
    pieces += [("\u2581" + w, -5.0) for w in WORDS]
    pieces += [(c, -10.0) for c in ascii_lowercase + digits + ".,'!?-"]
    seen = {p for p, _ in pieces}
    for n, score in ((2, -9.0), (3, -7.0)):
        for letters in product(ascii_lowercase, repeat=n):
            for piece in ("\u2581" + "".join(letters), "".join(letters)):
                if piece not in seen and len(pieces) < N_PIECES:
                    seen.add(piece)
                    pieces.append((piece, score))
    tok = Tokenizer(models.Unigram(pieces, unk_id=2))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return T5TokenizerFast(
        tokenizer_object=tok,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_ids=100,
        model_max_length=77,
    )


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _listing(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def build(dest=DEST, t5_layers: int = 1, seed: int = 0) -> dict:
    """Write ``dest/stage1`` and ``dest/stage2`` (module docstring) and ``dest/build.json``;
    one model in memory at a time (fp32 while initialised, fp16 when saved)."""
    import gc

    import torch
    from diffusers import DDPMScheduler, IFPipeline, IFSuperResolutionPipeline, UNet2DConditionModel
    from transformers import T5Config, T5EncoderModel

    dest = Path(dest)
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    none = dict(safety_checker=None, feature_extractor=None, watermarker=None)
    params = {}
    tok = tokenizer()
    unet = UNet2DConditionModel(**IF_I_L_UNET).to(torch.float16)
    encoder = T5EncoderModel(T5Config(**T5_XXL, num_layers=t5_layers)).eval()
    encoder = encoder.to(torch.float16)
    params["stage1.unet"], params["stage1.text_encoder"] = _params(unet), _params(encoder)
    IFPipeline(
        tokenizer=tok,
        text_encoder=encoder,
        unet=unet,
        scheduler=DDPMScheduler(**IF_SCHEDULER, sample_max_value=1.5),
        requires_safety_checker=False,
        **none,
    ).save_pretrained(dest / "stage1", variant="fp16", safe_serialization=True)
    del unet, encoder
    gc.collect()
    unet = UNet2DConditionModel(**IF_II_L_UNET).to(torch.float16)
    params["stage2.unet"] = _params(unet)
    IFSuperResolutionPipeline(
        tokenizer=tok,
        text_encoder=None,
        unet=unet,
        scheduler=DDPMScheduler(**IF_SCHEDULER, sample_max_value=1.0),
        image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"),
        requires_safety_checker=False,
        **none,
    ).save_pretrained(dest / "stage2", variant="fp16", safe_serialization=True)
    del unet
    gc.collect()
    files = {stage: _listing(dest / stage) for stage in ("stage1", "stage2")}
    info = {
        "parameters": params,
        "t5_layers": t5_layers,
        "tokenizer_ids": len(tok),
        "bytes": {stage: sum(f.values()) for stage, f in files.items()},
        "files": {stage: sorted(f) for stage, f in files.items()},
        "seed": seed,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    (dest / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ------------------------------------------------------------------------------------ run


def cpu_overlay() -> dict:
    """What the CPU run changes beyond the model folders: every Part A rule once, small."""
    house = {"source": "file:assets/drawings/house.png"}
    return {
        "timesteps": {"start": 990, "stride": 330},  # 990, 660, 330, 0: 3 steps
        "images": {"cat": {"source": "skimage:chelsea"}, "drawn_house": house},
        "a0": {"prompts": ["a rocket ship"], "steps": [2], "stage2_steps": 2},
        "forward": {"image": "cat", "t": [500]},
        "iterative": {"i_start": 1, "frame_every": 1},  # 660 -> 0
        "sample": {"num": 1, "prompts": ["a high quality photo"]},
        "cfg": {"num": 1, "prompts": ["a high quality photo"]},
        "sdedit": {
            "i_start": [1],
            "images": ["cat"],
            "edit_images": ["drawn_house"],
            "text": {"prompt": "a rocket ship", "images": ["cat"]},
        },
        "inpaint": [{"image": "cat", "rects": [[2, 24, 18, 18]]}],
        "anagrams": {
            "view": "flip",
            "pairs": [
                {
                    "name": "old_man_campfire",
                    "prompts": [
                        "an oil painting of an old man",
                        "an oil painting of people around a campfire",
                    ],
                }
            ],
        },
        "hybrids": {
            "kernel_size": 33,
            "sigma": 2.0,
            "pairs": [
                {
                    "name": "skull_waterfalls",
                    "prompts": ["a lithograph of a skull", "a lithograph of waterfalls"],
                }
            ],
        },
    }


def overlay(dest: Path, device: str, full: bool) -> dict:
    """The --configfile laid over configs/deepfloyd.yaml: the built folders, offline, fp16
    files; on the CPU also :func:`cpu_overlay` (no GPU resource, no GPU requested)."""
    backend = {
        "stage1": str((dest / "stage1").resolve()),
        "stage2": str((dest / "stage2").resolve()),
        "text_encoder": None,
        "variant": "fp16",
        "local_files_only": True,
    }
    out = {
        "preset": f"if_rehearsal_{device}{'_full' if full else ''}",
        "device": device,
        "gpus_per_job": 0 if device == "cpu" else 1,
        "parta": {"backend": backend},
    }
    if not full:
        out["parta"].update(cpu_overlay())
    return out


class _Poller:
    """A daemon thread that runs ``_loop`` while the ``with`` block lasts (``_stop`` ends it)."""

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class HostPoll(_Poller):
    """Resident memory of the run's processes (Snakemake and every job) every ``interval``
    seconds (psutil): the peak of all of them together, and per job script (``.snakemake/scripts/tmpXXX.<script>.py``) the
    peak of that process. Snakemake's own ``max_rss`` (a job's process tree) samples every
    0.5 s for the job's first 30 s and every 30 s after that, so it can miss a long job's peak;
    both can miss a spike shorter than 0.5 s (weights converted while they load)."""

    _SCRIPT = re.compile(r"\.([A-Za-z0-9_]+)\.py$")

    def __init__(self, interval: float = 0.5):
        super().__init__(interval)
        self.root, self.peak_mb, self.by_script = None, 0.0, {}

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0.0
        for p in procs:
            try:
                mb, cmd = p.memory_info().rss / 2**20, p.cmdline()
            except psutil.Error:
                continue
            total += mb
            m = self._SCRIPT.search(cmd[-1]) if cmd else None
            if m:
                self.by_script[m.group(1)] = max(self.by_script.get(m.group(1), 0.0), mb)
        self.peak_mb = max(self.peak_mb, total)

    def _loop(self):
        while not self._stop.is_set():
            if self.root is not None:
                self._sample()
            self._stop.wait(self.interval)


class GpuPoll(_Poller):
    """Peak ``memory.used`` (MiB, summed over the GPUs) seen by ``nvidia-smi`` every
    ``interval`` seconds while the run lasts; None when nvidia-smi cannot be run."""

    def __init__(self, interval: float = 0.5):
        super().__init__(interval)
        self.peak_mib, self.samples = None, 0

    def _loop(self):
        cmd = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
                used = sum(float(x) for x in out.split())
            except (OSError, subprocess.SubprocessError, ValueError):
                return
            self.samples += 1
            self.peak_mib = used if self.peak_mib is None else max(self.peak_mib, used)
            self._stop.wait(self.interval)


def gpu_name() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.splitlines()[0].strip() or None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def versions() -> dict:
    import diffusers
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }


def table_rows(d: dict) -> list[dict]:
    """The report's table row of a rehearsal (benchmarks/_rows.py): total wall time, the UNet
    sizes, the slowest jobs and the largest peak memory."""
    params = d.get("parameters") or {}
    sizes = ", ".join(
        f"{label} {params[key] / 1e9:.2f} B"
        for key, label in (("stage1.unet", "IF-I-L"), ("stage2.unet", "IF-II-L"))
        if isinstance(params.get(key), (int, float)) and params[key]
    )
    device = f"{d.get('device', '?')}, {sizes or 'sizes not recorded'}"
    if d.get("t5_layers"):
        device += f", T5 width 4096 ({d['t5_layers']} layer(s))"
    conditions = d.get("conditions") or {}
    note = conditions.get("note") if isinstance(conditions, dict) else str(conditions)
    notes = [note] if note else []
    notes.append(f"{d.get('jobs', '?')} jobs")
    notes += job_notes(d)
    if d.get("run_peak_rss_mb_polled"):
        notes.append(f"all processes at once at most {d['run_peak_rss_mb_polled']:.0f} MB")
    if isinstance(d.get("gpu_peak_memory_used_mib"), (int, float)):
        notes.append(f"GPU memory in use at most {d['gpu_peak_memory_used_mib']:.0f} MiB")
    what = "full preset" if d.get("full_preset") else "CPU overlay"
    return [
        row(
            f"DeepFloyd IF rehearsal, every Part A rule ({what}, random weights)",
            machine_text(d.get("machine")),
            device,
            d.get("command", "snakemake parta_all"),
            f"{d['wall_seconds']:.0f} s",
            note="; ".join(notes),
        )
    ]


def run(dest=DEST, device: str = "cpu", full: bool = False, mem_mb: int = 13000,
        name: str | None = None, keep: str | None = None, conditions: str = "") -> dict:  # fmt: skip
    """The timed Snakemake run (module docstring); writes and returns the result JSON."""
    dest = Path(dest)
    if not (dest / "build.json").is_file():
        raise SystemExit(f"{dest}: no built models; run `{Path(__file__).name} build` first")
    built = json.loads((dest / "build.json").read_text())
    config = overlay(dest, device, full)
    commit = git_describe()
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp) / "workflow"
        copy_repo(wd)
        (wd / "if_rehearsal.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        cmd = [sys.executable, "-m", "snakemake", "parta_all", "--cores", str(os.cpu_count()),
               "--configfile", "configs/deepfloyd.yaml", "if_rehearsal.yaml"]  # fmt: skip
        if device == "cpu":
            # one model-loading job at a time (each asks 12 GB; encode_prompts sized to fit)
            cmd += ["--resources", f"mem_mb={mem_mb}",
                    "--set-resources", f"encode_prompts:mem_mb={mem_mb}"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(wd / "src"), "HF_HUB_OFFLINE": "1"}
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        with HostPoll() as host, GpuPoll() as poll:
            proc = subprocess.Popen(cmd, cwd=wd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            host.root = proc.pid
            _, err = proc.communicate()
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(wd / "results", keep)
            for extra in ("logs", "benchmarks/rules"):  # job logs, Snakemake benchmark files
                shutil.copytree(wd / extra, Path(keep) / "_run" / extra, dirs_exist_ok=True)
            (Path(keep) / "snakemake.log").write_text(err)
        if proc.returncode:
            raise SystemExit(f"snakemake failed:\n{err[-4000:]}")
        seconds, peaks = rule_benchmarks(wd, "s"), rule_benchmarks(wd, "max_rss")
        cpu_seconds = rule_benchmarks(wd, "cpu_time")
        jobs = err.count("Finished jobid")
    model = cpu_model()
    gpu = gpu_name() if device.startswith("cuda") else None
    machine = {"cpu_model": model, "cores": os.cpu_count()}
    if gpu:
        machine["cuda"] = gpu
    result = {
        "benchmark": "if_rehearsal",
        "command": " ".join(["snakemake", *cmd[3:]]),
        "script": f"python benchmarks/{Path(__file__).name} run --device {device}"
        + (" --full" if full else ""),
        "device": device,
        "full_preset": full,
        "git": commit,
        "machine": machine,
        "versions": versions(),
        "overlay": config,
        "conditions": {
            "note": conditions,
            "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_min_after": [round(x, 2) for x in load_after],
        },
        "wall_seconds": round(wall, 1),
        "jobs": jobs,
        "rule_seconds": seconds,
        "rule_peak_rss_mb": peaks,
        "rule_cpu_seconds": cpu_seconds,
        "run_peak_rss_mb_polled": round(host.peak_mb, 1),
        "script_peak_rss_mb_polled": {k: round(v, 1) for k, v in sorted(host.by_script.items())},
        "parameters": built["parameters"],
        "t5_layers": built["t5_layers"],
        "model_bytes": built["bytes"],
        "weights_variant": "fp16 safetensors, loaded as fp32 on the CPU, fp16 on CUDA",
        "inferred": INFERRED,
    }
    if device.startswith("cuda"):
        result["gpu_peak_memory_used_mib"] = poll.peak_mib
        result["gpu_memory_note"] = (
            "nvidia-smi memory.used every 0.5 s over the whole run (all processes); "
            f"{poll.samples} samples. Untested path: no GPU was lent when it was written."
        )
    where = slug(gpu or model) if device.startswith("cuda") else slug(model)
    out = REPO / "benchmarks" / "results" / f"if_rehearsal_{name or f'{device}_{where}'}.json"
    add_rows(result, table_rows(result))
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {wall:.0f} s, {jobs} jobs on {model}")
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the random-weight model folders")
    b.add_argument("--dest", default=str(DEST))
    b.add_argument("--t5-layers", type=int, default=1)
    r = sub.add_parser("run", help="the timed Snakemake run of every Part A rule")
    r.add_argument("--dest", default=str(DEST))
    r.add_argument("--device", default="cpu", help="cpu (the overlay) or cuda")
    r.add_argument("--full", action="store_true", help="the full preset, not the CPU overlay")
    r.add_argument("--mem-mb", type=int, default=13000, help="CPU: --resources mem_mb")
    r.add_argument("--name", default=None, help="result name (default: device + machine)")
    r.add_argument("--keep", default=None, help="copy the run's results/ (+ _run/: logs) here")
    r.add_argument("--conditions", default="", help="how the machine was loaded (recorded)")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        print(json.dumps(build(args.dest, args.t5_layers), indent=1))
    else:
        run(args.dest, args.device, args.full, args.mem_mb, args.name, args.keep, args.conditions)


if __name__ == "__main__":
    main()
