# Beyond the spec, item: repaint (config beyond.repaint; section X4 of the writeup).
BEYOND_REPAINT = config["beyond"]["repaint"]


def beyond_repaint_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.repaint.enabled is false."""
    if not BEYOND_REPAINT["enabled"]:
        return []
    return []


BEYOND["repaint"] = beyond_repaint_files
