"""Rule partb_page: a minimal HTML page listing Part B's figures (relative links)."""

import html
import os

from fundiff.io import setup_logging, write_text

smk = snakemake  # noqa: F821
setup_logging(smk.log[0])
out_dir = os.path.dirname(smk.output[0])
items = []
for path in smk.input.figures:
    rel = os.path.relpath(path, out_dir)
    items.append(
        f'<figure><img src="{html.escape(rel)}" alt="{html.escape(rel)}">'
        f"<figcaption>{html.escape(rel)}</figcaption></figure>"
    )
page = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Part B figures</title>"
    "<style>figure{display:inline-block;margin:8px;vertical-align:top}"
    "img{max-width:480px;image-rendering:pixelated}</style></head><body>"
    "<h1>Part B: DDPM on MNIST from scratch</h1>" + "\n".join(items) + "</body></html>\n"
)
write_text(smk.output[0], page)
