"""fundiff.workflow.resources: what each rule asks the machine or the cluster for."""

from __future__ import annotations

import copy
import json
import re
import tomllib

import pytest
import yaml

from fundiff.workflow import resources
from fundiff.workflow.resources import ResourceTableError, Size, size, slurm
from tests.helpers.dryrun import merged_config
from tests.helpers.rules import rule_blocks
from tests.helpers.workflow import REPO

EMBEDDED = merged_config([])
FA24 = merged_config(["configs/fa24.yaml"])
DEEPFLOYD = merged_config(["configs/deepfloyd.yaml"])
TABLE = resources.load()
SIZED = re.compile(r'\*\*sized\("(\w+)"')


def test_cpu_sizes_are_the_measured_peak_with_headroom_rounded_up():
    train = TABLE.rules["train"]
    s = size(EMBEDDED, "train", gpu_capable=True)  # embedded: no GPU, so the CPU sizes
    assert s.mem_mb >= train.peak_mb * resources.MEM_HEADROOM and s.mem_mb % 500 == 0
    assert s.mem_mb - train.peak_mb * resources.MEM_HEADROOM < 500
    assert s.runtime * 60 >= train.seconds * resources.TIME_HEADROOM and s.runtime % 5 == 0
    assert size(EMBEDDED, "report") == Size(resources.MIN_MEM_MB, resources.MIN_MINUTES)


def test_every_rule_has_a_size_and_an_unknown_rule_is_a_clear_error():
    for rule in TABLE.rules:
        s = size(EMBEDDED, rule)
        assert s.mem_mb >= resources.MIN_MEM_MB and s.runtime >= resources.MIN_MINUTES
    with pytest.raises(KeyError, match=r"no size for rule 'nope': add it to .*resources\.yaml"):
        size(EMBEDDED, "nope")


def test_the_table_has_exactly_the_rules_the_workflow_sizes():
    """Every ``**sized("rule")`` of rules/*.smk has an entry, and no entry is left over."""
    sized = {m for _, body in rule_blocks().values() for m in SIZED.findall(body)}
    assert sized, "no sized(...) call found in rules/*.smk"
    assert sized == set(TABLE.rules), sized ^ set(TABLE.rules)


def test_the_table_is_package_data_beside_the_module():
    assert resources.TABLE.parent == REPO / "src/fundiff/workflow" and resources.TABLE.is_file()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "workflow/resources.yaml" in pyproject["tool"]["setuptools"]["package-data"]["fundiff"]


def _write_table(tmp_path, edit):
    raw = yaml.safe_load(resources.TABLE.read_text())
    edit(raw)
    path = tmp_path / "resources.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_size_reads_the_table_it_is_given(tmp_path):
    def double_train(raw):
        raw["rules"]["train"]["peak_mb"] *= 2
        del raw["rules"]["report"]

    path = _write_table(tmp_path, double_train)
    assert size(EMBEDDED, "train", table=path).mem_mb > size(EMBEDDED, "train").mem_mb
    assert size(EMBEDDED, "train", table=resources.load(path)) == size(
        EMBEDDED, "train", table=path
    )
    with pytest.raises(
        KeyError, match=f"no size for rule 'report': add it to {re.escape(str(path))}"
    ):
        size(EMBEDDED, "report", table=path)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (
            lambda r: r["rules"]["train"].update(peak=1),
            r"rule 'train': unknown key\(s\) \['peak'\]",
        ),
        (
            lambda r: r["rules"]["train"].pop("seconds"),
            "rule 'train': give both peak_mb and seconds",
        ),
        (lambda r: r["rules"]["report"].clear(), "rule 'report': needs peak_mb and seconds"),
        (
            lambda r: r["rules"]["parta_a0"].update(deepfloyd="huge"),
            "'huge' is not in deepfloyd_sizes",
        ),
        (lambda r: r.pop("extra_mb"), "missing or malformed entry 'extra_mb'"),
    ],
)
def test_a_malformed_table_is_a_one_line_error_naming_the_file(tmp_path, edit, why):
    path = _write_table(tmp_path, edit)
    with pytest.raises(ResourceTableError, match=f"^{re.escape(str(path))}: .*{why}") as e:
        resources.load(path)
    assert "\n" not in str(e.value)


def test_full_mnist_adds_memory_only_to_the_rules_that_load_it():
    cfg = copy.deepcopy(EMBEDDED)
    cfg["data"]["mnist"]["source"] = "torchvision"
    assert {r for r, e in TABLE.rules.items() if e.loads_mnist} >= {"mnist", "train"}
    for rule, entry in TABLE.rules.items():
        if entry.loads_mnist:
            assert size(cfg, rule).mem_mb >= size(EMBEDDED, rule).mem_mb + TABLE.full_mnist_mb
        else:
            assert size(cfg, rule) == size(EMBEDDED, rule), rule


def test_gpu_presets_add_the_cuda_host_memory_and_gpu_time_limits_to_gpu_rules_only():
    train = size(FA24, "train", gpu_capable=True)
    assert train.runtime == TABLE.rules["train"].gpu_minutes
    cpu_train = size(FA24 | {"device": "cpu", "gpus_per_job": 0}, "train", gpu_capable=True)
    assert train.mem_mb == cpu_train.mem_mb + TABLE.cuda_host_mb
    assert TABLE.rules["sample"].gpu_minutes is None
    assert size(FA24, "sample", gpu_capable=True).runtime == TABLE.gpu_default_minutes
    assert size(FA24, "loss_curve") == size(EMBEDDED, "loss_curve")  # light: not on the GPU
    assert resources.uses_gpu(FA24) and not resources.uses_gpu(EMBEDDED)


def test_deepfloyd_rules_are_sized_for_the_if_weights():
    a0, model = TABLE.rules["parta_a0"].deepfloyd, TABLE.rules["parta_sdedit"].deepfloyd
    assert size(DEEPFLOYD, "encode_prompts").mem_mb >= 20000  # T5-XXL, 9.8 GB in fp16
    assert size(EMBEDDED, "encode_prompts") == size(DEEPFLOYD, "encode_prompts")  # its own rule
    assert size(DEEPFLOYD, "parta_sdedit", gpu_capable=True) == model
    assert size(DEEPFLOYD, "parta_a0", gpu_capable=True) == a0
    # the real-size CPU rehearsal's peaks (random IF-I-L / IF-II-L weights) fit with headroom
    rehearsal = json.loads((REPO / "benchmarks/results/if_rehearsal_cpu_amd_epyc.json").read_text())
    peaks = rehearsal["script_peak_rss_mb_polled"]  # per script, polled every 0.5 s
    assert peaks["parta_a0"] * resources.MEM_HEADROOM <= a0.mem_mb
    for script in ("parta_noisy", "parta_iterative", "parta_sample", "parta_sdedit", "parta_pair"):
        assert peaks[script] * resources.MEM_HEADROOM <= model.mem_mb, script
    assert (
        peaks["parta_encode"] * resources.MEM_HEADROOM <= size(DEEPFLOYD, "encode_prompts").mem_mb
    )
    assert size(EMBEDDED, "parta_sdedit", gpu_capable=True).mem_mb < 5000  # mnist: the CPU size


def test_threads_come_from_config_never_the_machine():
    assert resources.compute_threads(EMBEDDED) == 8  # schema default
    assert resources.compute_threads(EMBEDDED | {"threads_per_job": 3}) == 3


@pytest.mark.parametrize(
    ("env", "gpu", "want"),
    [
        ({}, False, {}),
        ({}, True, {}),
        ({"FUNDIFF_SLURM_PARTITION": "cpu"}, True, {"slurm_partition": "cpu"}),
        ({"FUNDIFF_SLURM_PARTITION": "cpu", "FUNDIFF_SLURM_GPU_PARTITION": "gpu"}, True,
         {"slurm_partition": "gpu"}),
        ({"FUNDIFF_SLURM_PARTITION": "cpu", "FUNDIFF_SLURM_GPU_PARTITION": "gpu"}, False,
         {"slurm_partition": "cpu"}),
        ({"FUNDIFF_SLURM_ACCOUNT": " cs180 ", "FUNDIFF_SLURM_PARTITION": " "}, False,
         {"slurm_account": "cs180"}),
    ],
)  # fmt: skip
def test_slurm_placement_from_the_environment(env, gpu, want):
    assert slurm(env, gpu) == want
