# Beyond the spec, item: samplers (config beyond.samplers; section X2 of the writeup).
BEYOND_SAMPLERS = config["beyond"]["samplers"]


def beyond_samplers_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.samplers.enabled is false."""
    if not BEYOND_SAMPLERS["enabled"]:
        return []
    return []


BEYOND["samplers"] = beyond_samplers_files
