# Beyond the spec, item: views (config beyond.views; section X3 of the writeup).
BEYOND_VIEWS = config["beyond"]["views"]


def beyond_views_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.views.enabled is false."""
    if not BEYOND_VIEWS["enabled"]:
        return []
    return []


BEYOND["views"] = beyond_views_files
