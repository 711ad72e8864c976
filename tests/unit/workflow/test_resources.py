"""fundiff.workflow.resources: what each rule asks the machine or the cluster for."""

from __future__ import annotations

import copy

import pytest

from fundiff.workflow import resources
from fundiff.workflow.resources import Size, size, slurm
from tests.helpers.dryrun import merged_config

EMBEDDED = merged_config([])
FA24 = merged_config(["configs/fa24.yaml"])
DEEPFLOYD = merged_config(["configs/deepfloyd.yaml"])


def test_cpu_sizes_are_the_measured_peak_with_headroom_rounded_up():
    peak, seconds = resources.MEASURED["train"]
    s = size(EMBEDDED, "train", gpu_capable=True)  # embedded: no GPU, so the CPU sizes
    assert s.mem_mb >= peak * resources.MEM_HEADROOM and s.mem_mb % 500 == 0
    assert s.mem_mb - peak * resources.MEM_HEADROOM < 500
    assert s.runtime * 60 >= seconds * resources.TIME_HEADROOM and s.runtime % 5 == 0
    assert size(EMBEDDED, "report") == Size(resources.MIN_MEM_MB, resources.MIN_MINUTES)


def test_every_measured_rule_has_a_size_and_an_unknown_rule_is_a_clear_error():
    for rule in resources.MEASURED:
        s = size(EMBEDDED, rule)
        assert s.mem_mb >= resources.MIN_MEM_MB and s.runtime >= resources.MIN_MINUTES
    with pytest.raises(KeyError, match="no size for rule 'nope'.*MEASURED"):
        size(EMBEDDED, "nope")


def test_full_mnist_adds_memory_only_to_the_rules_that_load_it():
    cfg = copy.deepcopy(EMBEDDED)
    cfg["data"]["mnist"]["source"] = "torchvision"
    assert size(cfg, "train").mem_mb >= size(EMBEDDED, "train").mem_mb + resources.FULL_MNIST_MB
    assert size(cfg, "report") == size(EMBEDDED, "report")


def test_gpu_presets_add_the_cuda_host_memory_and_gpu_time_limits_to_gpu_rules_only():
    train = size(FA24, "train", gpu_capable=True)
    assert train.runtime == resources.GPU_MINUTES["train"]
    cpu_train = size(FA24 | {"device": "cpu", "gpus_per_job": 0}, "train", gpu_capable=True)
    assert train.mem_mb == cpu_train.mem_mb + resources.CUDA_HOST_MB
    assert size(FA24, "loss_curve") == size(EMBEDDED, "loss_curve")  # light: not on the GPU
    assert resources.uses_gpu(FA24) and not resources.uses_gpu(EMBEDDED)


def test_deepfloyd_rules_are_sized_for_the_if_weights():
    assert size(DEEPFLOYD, "encode_prompts").mem_mb >= 20000  # T5-XXL, 9.8 GB in fp16
    assert size(DEEPFLOYD, "parta_sdedit", gpu_capable=True) == Size(
        *resources.DEEPFLOYD_MODEL_RULE
    )
    assert size(DEEPFLOYD, "parta_a0", gpu_capable=True) == Size(*resources.DEEPFLOYD_A0)
    # the real-size CPU rehearsal's peaks (random IF-I-L / IF-II-L weights) fit with headroom
    import json

    from tests.helpers.workflow import REPO

    rehearsal = json.loads((REPO / "benchmarks/results/if_rehearsal_cpu_amd_epyc.json").read_text())
    peaks = rehearsal["script_peak_rss_mb_polled"]  # per script, polled every 0.5 s
    assert peaks["parta_a0"] * resources.MEM_HEADROOM <= resources.DEEPFLOYD_A0[0]
    for script in ("parta_noisy", "parta_iterative", "parta_sample", "parta_sdedit", "parta_pair"):
        assert peaks[script] * resources.MEM_HEADROOM <= resources.DEEPFLOYD_MODEL_RULE[0], script
    assert (
        peaks["parta_encode"] * resources.MEM_HEADROOM <= size(DEEPFLOYD, "encode_prompts").mem_mb
    )
    assert size(EMBEDDED, "parta_sdedit", gpu_capable=True).mem_mb < 5000


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
