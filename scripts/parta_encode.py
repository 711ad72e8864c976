"""Rule encode_prompts: every configured prompt through the T5 encoder once, cached to a file."""

from fundiff.device import resolve_device, setup_torch
from fundiff.parta.backends.deepfloyd import encode_prompts
from fundiff.workflow.runner import run


def main(smk, log):
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    prompts = smk.params.prompts
    cache = encode_prompts(smk.params.backend, prompts, smk.output[0], device)
    shapes = {tuple(v.shape) for v in cache.values()}
    log.info("encoded %d prompts on %s, embedding shapes %s", len(cache), device, shapes)


run(snakemake, main)  # noqa: F821
