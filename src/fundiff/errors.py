"""User-facing errors: a problem with the user's input, worded as one actionable line.

Scripts run under :func:`fundiff.io.setup_logging`, whose exception hook prints a ``UserError``
as the single line ``error: <message>`` (no traceback wall) and exits non-zero; any other
exception is a bug and keeps its full traceback.
"""


def first_line(e: BaseException) -> str:
    """The first line of an error's message (at most 200 characters), or its type's name."""
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


class UserError(Exception):
    """Bad input (config key, file, prompt, checkpoint, access): one line naming it and the fix."""


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class DataError(UserError, RuntimeError):
    """A dataset or image that cannot be fetched or read."""


class AccessError(UserError, RuntimeError):
    """A model that cannot be loaded (offline, not logged in, license not accepted)."""


class PromptError(UserError, ValueError):
    """A prompt the backend cannot condition on (or that was never encoded)."""
