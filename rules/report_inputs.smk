# Inputs of the writeup (rule report) that other parts provide. Part A plugs in through helpers in
# rules/common.smk: parta_tables() (its JSON table specs, fundiff.report.tables), parta_figures() (the
# images they show) and optionally parta_benchmarks() (benchmark: files of its expensive rules).
# Until Part A defines them they are empty lists here (a definition in common.smk wins).
if "parta_tables" not in globals():

    def parta_tables():
        return []


if "parta_figures" not in globals():

    def parta_figures():
        return []


if "parta_benchmarks" not in globals():

    def parta_benchmarks():
        return []


def parta_backend():
    """Which model made Part A, as text (None when Part A is not configured)."""
    backend = config.get("parta", {}).get("backend")
    if not backend:
        return None
    if backend["name"] == "deepfloyd":
        return f"deepfloyd ({backend.get('stage1')} + {backend.get('stage2')})"
    return backend["name"]
