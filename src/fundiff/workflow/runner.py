"""The one convention of the Snakemake scripts: ``run(snakemake, main)`` around ``main(smk, log)``.

Every script under scripts/ defines ``main(smk, log)`` (I/O around library calls) and ends with
``run(snakemake, main)``. Only the logging and error handling live here, so a script's library
closure (fundiff.workflow.deps) stays what it calls.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from fundiff.errors import UserError, first_line
from fundiff.io import setup_logging

ONE_LINE_ERRORS = (UserError,)  # bad input; anything else is a bug and keeps its traceback


def run(smk, main: Callable) -> None:
    """Run ``main(smk, log)`` with the rule's log; a known failure is logged as one line and
    exits 1."""
    log = setup_logging(smk.log[0] if smk.log else None)
    try:
        main(smk, log)
    except ONE_LINE_ERRORS as e:
        msg = first_line(e)
        print(f"error: {msg}", file=sys.stderr)  # the rule's log (shown on failure)
        if sys.stderr is not sys.__stderr__:
            print(f"error: {msg}", file=sys.__stderr__)
        sys.exit(1)
