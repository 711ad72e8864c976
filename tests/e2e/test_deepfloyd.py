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


@pytest.mark.full  # the tiny IF run: full tier
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


@pytest.mark.full  # the tiny IF run: full tier
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


@pytest.mark.full  # the tiny IF run: full tier
def test_beyond_parta_items_on_tiny_if(if_run):
    """X3 (figures, no judge), X4 (no classifier: no accuracy) and X5, the logo through A0's
    stage I + II, on the tiny IF pipeline (configs/tiny_deepfloyd.yaml's beyond block)."""
    beyond = yaml.safe_load((if_run / "configs/tiny_deepfloyd.yaml").read_text())["beyond"]
    r = if_run / "results/beyond"
    targets = [f"results/beyond/views/{v}/table.json" for v in beyond["views"]["views"]]
    targets += ["results/beyond/repaint/table.json", "results/beyond/logo/table.json"]
    run_snakemake(
        if_run, *targets, "--cores", "2", "--configfile", "configs/tiny_deepfloyd.yaml",
        env=OFFLINE, timeout=1200,
    )  # fmt: skip
    assert not (r / "views/success.json").exists()  # no digit classifier on IF
    view = read_table(r / "views/negate/table.json")
    for c in view["rows"][0]["cells"]:
        assert Image.open(c["path"]).size == (32, 32)
    rep = json.loads((r / "repaint/table.json").read_text())
    cols = rep["data"]["columns"]
    rows = [dict(zip(cols, row, strict=True)) for row in rep["data"]["rows"]]
    assert [x["accuracy"] for x in rows] == [None, None]
    assert all(x["outside error"] < 1e-6 for x in rows)
    logo = read_table(r / "logo/table.json")
    assert logo["section"] == "X5" and len(logo["rows"]) == 2  # stage I, stage II
    assert Image.open(logo["rows"][1]["cells"][0]["path"]).size == (64, 64)
    cache = torch.load(if_run / "results/parta/prompt_embeds.pt", weights_only=True)
    assert set(beyond["logo"]["prompts"]) <= set(cache)


@pytest.mark.full  # the tiny IF run: full tier
def test_fetch_models_records_the_local_folders_first(if_run):
    """The tiny preset's models are local folders: checked and recorded as they are (no hub),
    and every Part A job ran after fetch_models (their inputs name its manifest)."""
    m = json.loads((if_run / "results/parta/models.json").read_text())
    assert list(m) == ["stage1", "stage2", "text_encoder"]
    assert m["stage1"]["path"] == "resources/tiny_if/stage1" and m["stage1"]["commit"] is None
    assert m["text_encoder"]["path"] == m["stage1"]["path"]  # T5 from stage I's folder
    assert "unet/diffusion_pytorch_model.safetensors" in m["stage2"]["files"]
    assert "text_encoder/model.safetensors" in m["text_encoder"]["files"]
    assert all(e["bytes"] > 0 and e["variant"] == "auto" for e in m.values())
    assert "(local directory)" in (if_run / "logs/parta/fetch_models.log").read_text()
    fetched = (if_run / "results/parta/models.json").stat().st_mtime
    assert all(
        p.stat().st_mtime >= fetched for p in (if_run / "results/parta").glob("*/table.json")
    )


def test_every_part_a_job_waits_for_fetch_models(tmp_path):
    """Dry run of the DeepFloyd preset: fetch_models is the only root of Part A (the images and
    encode_prompts wait for it too), so an access problem stops the run before any Part A job;
    Part B does not depend on it."""
    wd = copy_workflow(tmp_path)
    out = run_snakemake(
        wd, "--d3dag", "--cores", "1", "--configfile", "configs/deepfloyd.yaml", env=OFFLINE
    )
    dag = json.loads(out.stdout[out.stdout.index("{") :])
    rule = {n["id"]: n["value"]["rule"] for n in dag["nodes"]}
    parents = {i: set() for i in rule}
    for e in dag["edges"]:
        parents[e["v"]].add(e["u"])

    def ancestors(i):
        seen, todo = set(), [i]
        while todo:
            for p in parents[todo.pop()] - seen:
                seen.add(p)
                todo.append(p)
        return {rule[a] for a in seen}

    part_a = [i for i, r in rule.items() if r.startswith(("parta_", "eval_parta_", "encode_"))]
    assert {rule[i] for i in part_a} >= {"parta_image", "encode_prompts", "parta_sdedit"}
    assert all("fetch_models" in ancestors(i) for i in part_a)
    part_b = [i for i, r in rule.items() if r in ("mnist", "calibrate", "train", "sample")]
    assert part_b and not any("fetch_models" in ancestors(i) for i in part_b)
    roots = {rule[i] for i, ps in parents.items() if not ps}
    assert "fetch_models" in roots and not roots & {r for r in rule.values() if "parta" in r}


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
    assert "\n" not in msg and len(msg) <= 200  # whole in the one-line error
    assert msg.startswith("cannot load DeepFloyd model 'DeepFloyd/IF-I-L-v1.0'")
    assert "(parta.backend.stage1): not cached and the hub is off" in msg
    assert "unset HF_HUB_OFFLINE" in msg and OFFLINE["HF_TOKEN"] not in msg


def test_unreachable_model_stops_the_run_before_any_other_job(tmp_path):
    """The whole DeepFloyd preset on one core, offline with an empty cache: fetch_models runs
    first (priority, also before Part B's roots) and fails with one line; nothing else ran."""
    wd = copy_workflow(tmp_path)
    cfg = wd / "no_access.yaml"
    cfg.write_text(
        "parta:\n  backend:\n    name: deepfloyd\n    stage1: DeepFloyd/IF-I-L-v1.0\n"
        "    stage2: DeepFloyd/IF-II-L-v1.0\n"
    )
    env = {**OFFLINE, "HF_HUB_CACHE": str(tmp_path / "empty_cache")}
    out = run_snakemake(
        wd,
        "--cores",
        "1",
        "--configfile",
        "configs/deepfloyd.yaml",
        str(cfg),
        "--config",
        "device=cpu",
        env=env,
        check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0
    log = (wd / "logs/parta/fetch_models.log").read_text()
    assert "error: cannot load DeepFloyd model 'DeepFloyd/IF-I-L-v1.0'" in log
    assert "(parta.backend.stage1): not cached and the hub is off" in log
    assert "unset HF_HUB_OFFLINE" in log and "Traceback" not in log
    assert OFFLINE["HF_TOKEN"] not in text + log
    ran = sorted(p.relative_to(wd / "logs").as_posix() for p in (wd / "logs").rglob("*.log"))
    assert ran == ["parta/fetch_models.log"]


def test_dry_run_needs_no_network(tmp_path):
    wd = copy_workflow(tmp_path)
    out = run_snakemake(
        wd, "-n", "--cores", "1", "--configfile", "configs/deepfloyd.yaml", env=OFFLINE
    )
    text = out.stdout + out.stderr
    assert "fetch_models" in text and "encode_prompts" in text and "parta_sdedit" in text
    assert "eval_parta_denoise" in text and "eval_parta_illusions" not in text
