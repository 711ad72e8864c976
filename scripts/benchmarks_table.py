"""Rule benchmarks_table: the committed benchmarks/results/*.json as one table for the report.

Each file's "rows" (written by the benchmarks/*.py that measured it) are read as they are
(fundiff.report.benchmarks); a file without them is skipped with a note naming the fix in the
log and under the table, never an error.
"""

import pandas as pd

from fundiff.io import write_csv
from fundiff.report.benchmarks import COLUMNS, summarize_all, table_caption, table_data
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run


def main(smk, log):
    files = [str(p) for p in smk.input.results]
    rows, notes = summarize_all(files)
    for note in notes:
        log.info("note: %s", note)
    log.info("%d rows from %d files", len(rows), len(files))
    write_csv(pd.DataFrame(rows, columns=COLUMNS), smk.output.csv)
    caption = table_caption(len(files), notes)
    params, data = {"files": files}, table_data(rows)
    write_table(
        smk.output.table, "C1", "Speed benchmarks", [], params=params, caption=caption, data=data
    )


run(snakemake, main)  # noqa: F821
