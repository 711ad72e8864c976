"""Prompts of the embedded (mnist) backend: each names a digit class.

Accepted forms (case-insensitive, surrounding spaces ignored): ``"7"``, ``"seven"``,
``"a handwritten 7"``, ``"a handwritten seven"``; ``""`` is unconditional. The spec's "a high
quality photo" (its conditional prompt for *unconditional generation*) is also unconditional.
Torch-free: the workflow validates prompts with it while parsing the Snakefile.
"""

from __future__ import annotations

from fundiff.errors import PromptError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
UNCONDITIONAL_PROMPTS = ("", "a high quality photo")
ACCEPTED = (
    "accepted mnist prompts: '7', 'seven', 'a handwritten 7', 'a handwritten seven' (any digit "
    "0-9, case-insensitive), or '' / 'a high quality photo' for unconditional"
)


def parse_prompt(prompt: str) -> int:
    """Digit class of a prompt, or -1 (unconditional). See the module docstring."""
    if not isinstance(prompt, str):
        raise PromptError(f"mnist prompt {prompt!r} is not a string; {ACCEPTED}")
    p = " ".join(prompt.strip().lower().split())
    if p in UNCONDITIONAL_PROMPTS:
        return -1
    if p.startswith("a handwritten "):
        p = p[len("a handwritten ") :]
    if len(p) == 1 and p.isdigit():
        return int(p)
    if p in DIGIT_WORDS:
        return DIGIT_WORDS.index(p)
    raise PromptError(f"mnist prompt {prompt!r} is not understood; {ACCEPTED}")
