# Beyond the spec, item: logo (config beyond.logo; section X5 of the writeup).
BEYOND_LOGO = config["beyond"]["logo"]


def beyond_logo_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.logo.enabled is false."""
    if not BEYOND_LOGO["enabled"]:
        return []
    return []


BEYOND["logo"] = beyond_logo_files
