"""Rule fetch_models: the DeepFloyd IF models made local before any Part A job, as a manifest.

Access to every hub repository is checked before anything is downloaded (one line on failure);
local directories are checked and recorded (fundiff.parta.backends.hub).
"""

from fundiff.io import write_json
from fundiff.parta.backends.hub import fetch
from fundiff.workflow.runner import run


def main(smk, log):
    manifest = fetch(dict(smk.params.backend), smk.params.device, log)
    for role, m in manifest.items():
        at = f" @ {m['commit']}" if m["commit"] else " (local directory)"
        log.info(
            "%s: %s%s -> %s, %d files, %.3f GB",
            role,
            m["repo"],
            at,
            m["path"],
            len(m["files"]),
            m["bytes"] / 1e9,
        )
    write_json(smk.output[0], manifest)


run(snakemake, main)  # noqa: F821
