"""Rule benchmarks_table: the committed benchmarks/results/*.json as one table for the report.

Files are recognised by their structure (fundiff.report.benchmarks); one that is not recognised is
skipped with a note in the log and under the table, never an error.
"""

import pandas as pd

from fundiff.io import setup_logging, write_csv
from fundiff.report import tables as figures
from fundiff.report.benchmarks import COLUMNS, summarize_all, table_data

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
rows, notes = summarize_all(smk.input.results)
for note in notes:
    log.info("note: %s", note)
log.info("%d rows from %d files", len(rows), len(smk.input.results))
df = pd.DataFrame(rows, columns=COLUMNS)
write_csv(df, smk.output.csv)
caption = (
    "Read from the committed benchmarks/results/*.json. Every ratio compares two variants run "
    "interleaved on the same machine (A B A B ..., median round), so load from other processes "
    "hits both; ratio > 1 means the first variant is faster (for the dry-run overhead: how much "
    "slower the workflow's dry run is than bare Snakemake). Absolute numbers depend on the "
    "machine and its load. Rows are grouped by the machine they were measured on."
)
if not smk.input.results:
    caption += " No results files were found in this checkout."
if notes:
    caption += " Skipped: " + "; ".join(notes) + "."
figures.write_table(
    smk.output.table,
    "C1",
    "Speed benchmarks",
    [],
    params={"files": [str(p) for p in smk.input.results]},
    caption=caption,
    data=table_data(rows),
)
