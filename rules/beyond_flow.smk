# Beyond the spec, item: flow (config beyond.flow; section X1 of the writeup).
BEYOND_FLOW = config["beyond"]["flow"]


def beyond_flow_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.flow.enabled is false."""
    if not BEYOND_FLOW["enabled"]:
        return []
    return []


BEYOND["flow"] = beyond_flow_files
