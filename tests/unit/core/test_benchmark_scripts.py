import json
import sys
from pathlib import Path

import yaml

from tests.helpers.workflow import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def _positive(d):
    return all(isinstance(v, float | int) and v > 0 for v in d.values())


def test_quick_benchmarks_json_shape(tmp_path):
    import run

    res = run.main(["--quick", "--cpu-only", "--out-dir", str(tmp_path)])
    on_disk = json.loads((tmp_path / "quick.json").read_text())
    assert on_disk["name"] == "quick" and on_disk["quick"] is True
    assert {"machine", "training", "cfg", "benchmark_seconds"} <= set(res)
    (tr,) = res["training"]
    assert set(tr["images_per_s"]) == {"naive", "ours"} and _positive(tr["images_per_s"])
    assert tr["speedup_ours_vs_naive"] > 0
    assert [cf["batch"] for cf in res["cfg"]] == [2, 40]
    for cf in res["cfg"]:
        assert _positive(cf["seconds_per_eps"]) and cf["speedup_batched_vs_two"] > 0
        assert cf["max_abs_diff"] < 1e-4  # the two CFG variants compute the same eps
    # 2 x 40 rows > CPU_MAX_ROWS: the samplers' chunked forward is measured too, and agrees
    small, big = res["cfg"]
    assert "batched_chunked" not in small["seconds_per_eps"]
    assert big["max_rows"] == run.CPU_MAX_ROWS and big["speedup_batched_chunked_vs_two"] > 0
    assert big["max_abs_diff_chunked"] < 1e-4


def test_fa24_settings_match_the_preset():
    import run

    fa24 = yaml.safe_load(Path(REPO / "configs/fa24.yaml").read_text())["partb"]
    base = yaml.safe_load(Path(REPO / "config.yaml").read_text())["partb"]
    for name, kw in run.FA24_PARTB.items():
        merged = {**base[name], **fa24[name]}
        for key in ("hidden", "batch_size", "epochs", "lr", "lr_decay_to", "sigma", "p_uncond"):
            if key in kw:
                assert kw[key] == merged[key], (name, key)
        assert (merged.get("lr_decay_to") or None) == kw.get("lr_decay_to"), name
        assert not merged.get("ema_decay"), name  # the spec has no EMA


def _params(config: dict) -> int:
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    with init_empty_weights():
        unet = UNet2DConditionModel(**config)
    return sum(p.numel() for p in unet.parameters())


def test_if_rehearsal_unets_have_the_published_sizes_and_xl_layout():
    """The inferred IF-I-L config is IF-I-XL's but for its width, and both rehearsal UNets
    have the model cards' sizes (900M, 1.2B; benchmarks/if_rehearsal.py INFERRED)."""
    import if_rehearsal as ifr
    import if_unet_step

    width = {"block_out_channels", "cross_attention_dim"}
    xl = if_unet_step.IF_I_XL
    assert {k: v for k, v in ifr.IF_I_L_UNET.items() if k in xl and k not in width} == {
        k: v for k, v in xl.items() if k not in width
    }
    assert ifr.IF_I_L_UNET["cross_attention_dim"] == 4 * ifr.IF_I_L_UNET["block_out_channels"][0]
    assert 0.85e9 < _params(ifr.IF_I_L_UNET) < 0.95e9
    assert 1.15e9 < _params(ifr.IF_II_L_UNET) < 1.25e9
    assert set(ifr.INFERRED) == {"stage1.unet", "stage2.unet", "stage1.text_encoder",
                                 "stage1.tokenizer"}  # fmt: skip


def test_if_rehearsal_tokenizer_has_t5_ids_and_pads_to_77():
    import if_rehearsal as ifr

    tok = ifr.tokenizer()
    assert len(tok) == 32100 <= ifr.T5_XXL["vocab_size"]
    ids = tok("a rocket ship", padding="max_length", max_length=77, truncation=True)["input_ids"]
    assert len(ids) == 77 and ids[:4] == [tok.convert_tokens_to_ids(f"\u2581{w}") for w in
                                          ("a", "rocket", "ship")] + [1]  # fmt: skip
    assert set(ids[4:]) == {0} and tok.unk_token_id == 2
    assert 2 not in tok("an unknown qzx word")["input_ids"]  # any word splits into pieces


def test_if_rehearsal_cpu_overlay_runs_every_parta_rule_once(tmp_path):
    """The overlay over configs/deepfloyd.yaml plans each Part A rule (rules/parta.smk and
    fetch_models) and no other: a rule added later must be added to the rehearsal too."""
    import re

    import if_rehearsal as ifr

    from tests.helpers.workflow import copy_workflow, planned_jobs, run_snakemake

    wd = copy_workflow(tmp_path / "wf")
    config = ifr.overlay(tmp_path / "models", "cpu", full=False)
    (wd / "overlay.yaml").write_text(yaml.safe_dump(config))
    out = run_snakemake(wd, "parta_all", "-n", "--cores", "2", "--configfile",
                        "configs/deepfloyd.yaml", "overlay.yaml", timeout=300)  # fmt: skip
    jobs = planned_jobs(out.stdout + out.stderr)
    smk = (REPO / "rules/parta.smk").read_text()
    rules = set(re.findall(r"^(?:rule (\w+):|use rule \w+ as (\w+))", smk, re.M))
    rules = {a or b for a, b in rules} | {"fetch_models"}
    assert set(jobs) == rules
    # one job per section: three SDEdit sections, one anagram and one hybrid, one A0 step count
    assert jobs["parta_sdedit"] == 3 and jobs["parta_pair"] == 2 and jobs["parta_a0"] == 1
    backend = config["parta"]["backend"]
    assert backend["variant"] == "fp16" and backend["local_files_only"] is True
    assert config["device"] == "cpu" and config["gpus_per_job"] == 0
