"""Rule train_classifier: the digit classifier behind every Part B metric (real digits only)."""

import json
import time

import numpy as np
import torch

from fundiff.device import resolve_device, setup_torch
from fundiff.evaluation.classifier import ClassifierConfig, embed, save_classifier, train_classifier
from fundiff.io import setup_logging, write_text

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
data = torch.load(smk.input.mnist)
cfg = ClassifierConfig(**smk.params.classifier, seed=smk.params.seed)
t0 = time.perf_counter()
model, history = train_classifier(cfg, data["train_images"], data["train_labels"], device)
seconds = time.perf_counter() - t0
_, probs = embed(model, data["test_images"])
pred, truth = probs.argmax(1), data["test_labels"].numpy()
info = {
    "test_accuracy": float((pred == truth).mean()),
    "per_class_accuracy": [float((pred[truth == c] == c).mean()) for c in range(10)],
    "n_train": len(data["train_labels"]),
    "n_test": len(truth),
    "mnist_source": data["source"],
    "config": vars(cfg),
    "history": history,
    "device": str(device),
}
# wall time goes to the log only: the outputs stay byte-identical across reruns
log.info("classifier: held-out accuracy %.4f (%.1f s)", info["test_accuracy"], seconds)
save_classifier(model, info, smk.output.model)
write_text(smk.output.info, json.dumps(info, indent=1) + "\n")
assert np.isfinite(info["test_accuracy"])
