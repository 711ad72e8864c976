"""Rule train_classifier: the digit classifier behind every Part B metric (real digits only)."""

import math
import time

import torch

from fundiff.device import resolve_device, setup_torch
from fundiff.evaluation.classifier import (
    ClassifierConfig,
    held_out_accuracy,
    save_classifier,
    train_classifier,
)
from fundiff.io import write_json
from fundiff.workflow.runner import run


def main(smk, log):
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    data = torch.load(smk.input.mnist, weights_only=True)
    cfg = ClassifierConfig(**smk.params.classifier, seed=smk.params.seed)
    t0 = time.perf_counter()
    model, history = train_classifier(cfg, data["train_images"], data["train_labels"], device)
    seconds = time.perf_counter() - t0
    info = {
        **held_out_accuracy(model, data["test_images"], data["test_labels"].numpy()),
        "n_train": len(data["train_labels"]),
        "n_test": len(data["test_labels"]),
        "mnist_source": data["source"],
        "config": vars(cfg),
        "history": history,
        "device": str(device),
    }
    # wall time goes to the log only: the outputs stay byte-identical across reruns
    log.info("classifier: held-out accuracy %.4f (%.1f s)", info["test_accuracy"], seconds)
    save_classifier(model, info, smk.output.model)
    write_json(smk.output.info, info)
    assert math.isfinite(info["test_accuracy"])


run(snakemake, main)  # noqa: F821
