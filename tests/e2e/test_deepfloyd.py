"""The DeepFloyd IF backend end to end on a tiny IF pipeline built offline (no weights, no hub).

Loading goes through the same code as the real backend: ``DiffusionPipeline.from_pretrained``
on a directory, T5 + tokenizer for ``encode_prompts``, ``IFSuperResolutionPipeline`` for A0.
"""

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from fundiff.report.tables import read_table
from tests.helpers import tiny_if
from tests.helpers.workflow import copy_workflow, run_snakemake

pytestmark = pytest.mark.e2e
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_FAKEtoken0123456789secret"}


@pytest.fixture(scope="module")
def tiny_if_dir(tmp_path_factory):
    return tiny_if.build(tmp_path_factory.mktemp("tiny_if"))


@pytest.fixture(scope="module")
def if_run(tmp_path_factory, tiny_if_dir):
    wd = copy_workflow(tmp_path_factory.mktemp("if_run"))
    shutil.copytree(tiny_if_dir, wd / "resources/tiny_if")
    run_snakemake(
        wd,
        "parta_all",
        "--cores",
        "2",
        "--configfile",
        "configs/tiny_deepfloyd.yaml",
        env=OFFLINE,
        timeout=1200,
    )
    return wd


def test_every_parta_rule_runs_on_tiny_if(if_run):
    cfg = yaml.safe_load((if_run / "configs/tiny_deepfloyd.yaml").read_text())["parta"]
    r = if_run / "results/parta"
    cache = torch.load(r / "prompt_embeds.pt", weights_only=True)
    assert "" in cache and "a rocket ship" in cache
    assert cache["a rocket ship"].shape == (77, 32)  # max_length 77, tiny T5 width 32
    tables = sorted(r.glob("*/table.json")) + sorted(r.glob("a1_4/*.json"))
    sections = {json.loads(p.read_text())["section"] for p in tables}
    assert sections == {
        "A0",
        "A1.1",
        "A1.2",
        "A1.3",
        "A1.4",
        "A1.5",
        "A1.6",
        "A1.7",
        "A1.7.1",
        "A1.7.2",
        "A1.7.3",
        "A1.8",
        "A1.9",
    }
    for p in tables:
        spec = read_table(p)
        assert spec["params"] or spec["section"] in ("A1.1",)
        for row in spec["rows"]:
            for c in row["cells"]:
                Image.open(c["path"]).verify()
        assert p.with_suffix(".npz").is_file()
    a0 = read_table(r / "a0/table.json")
    assert len(a0["rows"]) == 2 * len(cfg["a0"]["steps"])  # stage I + stage II per step count
    stage2 = Image.open(a0["rows"][1]["cells"][0]["path"])
    assert stage2.size == (64, 64)  # tiny stage II: 32 -> 64 (sizes from the model config)
    z = np.load(r / "a1_1/table.npz")
    assert z["original"].shape == (32, 32, 3) and z["original"].dtype == np.uint8
    anagram = read_table(r / "a1_8/table.json")["rows"][0]["cells"]
    assert [c["turn"] for c in anagram] == [None, "flip"]  # the spec's view
    assert "IFSuperResolutionPipeline" in read_table(r / "a0/table.json")["params"]["stage2"]


def test_parta_metrics_run_on_tiny_if_without_the_classifier(if_run):
    run_snakemake(
        if_run,
        "results/eval/parta_summary.json",
        "--cores",
        "2",
        "--configfile",
        "configs/tiny_deepfloyd.yaml",
        env=OFFLINE,
        timeout=600,
    )
    r = if_run / "results/eval"
    s = json.loads((r / "parta_summary.json").read_text())
    assert s["backend"] == "deepfloyd" and s["illusions"] is None
    assert "no digit classifier" in s["illusions_note"]
    assert not (r / "classifier.pt").exists() and not (r / "parta_illusions.csv").exists()
    den = read_table(r / "parta_denoise.json")
    assert den["section"] == "A2" and den["params"]["images"] == ["cat"]  # forward + sdedit
    assert len(den["data"]["rows"]) == 4 * 2  # 4 methods x t = 250, 750
    inp = json.loads((r / "parta_inpaint.json").read_text())["data"]["rows"]
    assert [row[0] for row in inp] == ["cat"] and inp[0][3] < 1e-10  # MSE outside the mask


def test_unreachable_model_is_one_line():
    from fundiff.parta.backends import load_backend

    with pytest.MonkeyPatch.context() as mp:
        for k, v in OFFLINE.items():
            mp.setenv(k, v)
        with pytest.raises(RuntimeError) as e:
            load_backend(
                {"name": "deepfloyd", "stage1": "DeepFloyd/IF-I-L-v1.0", "stage2": "x"},
                prompt_embeds="unused.pt",
            )
    msg = str(e.value)
    assert "\n" not in msg and "hf auth login" in msg and "IF-I-XL-v1.0" in msg
    assert "DeepFloyd/IF-I-L-v1.0" in msg and "parta.backend.stage1" in msg
    assert OFFLINE["HF_TOKEN"] not in msg


def test_unreachable_model_in_snakemake_prints_one_line_and_no_token(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = wd / "no_access.yaml"
    cfg.write_text(
        "parta:\n  backend:\n    name: deepfloyd\n    stage1: DeepFloyd/IF-I-L-v1.0\n"
        "    stage2: DeepFloyd/IF-II-L-v1.0\n"
    )
    out = run_snakemake(
        wd,
        "results/parta/prompt_embeds.pt",
        "--cores",
        "1",
        "--configfile",
        "configs/deepfloyd.yaml",
        str(cfg),
        "--config",
        "device=cpu",
        env=OFFLINE,
        check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0
    log = (wd / "logs/parta/encode_prompts.log").read_text()
    assert "cannot load DeepFloyd model 'DeepFloyd/IF-I-L-v1.0'" in log
    assert "hf auth login" in log and "Traceback" not in log
    assert OFFLINE["HF_TOKEN"] not in text + log


def test_dry_run_needs_no_network(tmp_path):
    wd = copy_workflow(tmp_path)
    out = run_snakemake(
        wd, "-n", "--cores", "1", "--configfile", "configs/deepfloyd.yaml", env=OFFLINE
    )
    text = out.stdout + out.stderr
    assert "encode_prompts" in text and "parta_sdedit" in text
    assert "eval_parta_denoise" in text and "eval_parta_illusions" not in text
