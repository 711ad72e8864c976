# What the writeup is made from (the report rule's inputs), from the target lists in
# rules/common.smk: every part's table specs (fundiff.report.tables), the images they show and
# the benchmark files of the expensive rules.


def report_tables():
    tables = partb_tables() + parta_tables() + eval_tables() + parta_eval_tables()
    return tables + ["results/benchmarks/table.json"]


def report_figures():
    return partb_figures() + parta_figures() + eval_figures() + parta_eval_figures()


def report_benchmarks():
    return partb_benchmarks() + parta_eval_benchmarks()
