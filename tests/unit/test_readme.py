"""The README: its first code block holds the two commands, its links and images resolve.

The two commands are the project's promise (set up and rebuild the writeup; set up and test), and
CI (.ci/run) runs the test command it extracts from that block, so the block must not drift. Every
relative link and image of README.md and docs/*.md must point to a file in the repository that
git does not ignore (not to a run's output under results/, which a fresh clone does not have), and
a link's #anchor to a heading of the page it names.
"""

from __future__ import annotations

import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers.workflow import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
BUILD = (
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e . "
    "&& .venv/bin/snakemake --cores all"
)
TEST = (
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e '.[test]' "
    "&& .venv/bin/python -m pytest"
)


def first_bash_block(text: str) -> list[str]:
    """The lines of the first ```bash fenced block."""
    m = re.search(r"^```bash\n(.*?)^```", text, re.S | re.M)
    assert m, "README.md has no ```bash block"
    return m.group(1).splitlines()


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code: what Markdown renders as links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(text: str) -> list[tuple[str, str]]:
    """(path, anchor) of every relative Markdown link / image and HTML ``src`` in ``text``'s prose;
    path is "" for a link within the page. URLs with a scheme (https:, mailto:) are left out."""
    text = prose(text)
    targets = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    targets += re.findall(r'<img [^>]*src="([^"]+)"', text)
    out = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue
        path, _, anchor = target.partition("#")
        out.append((urllib.parse.unquote(path), anchor))
    return out


def anchors(page: Path) -> set[str]:
    """The heading anchors a git forge makes for ``page`` (GitHub's rule: lower case, spaces to
    hyphens, punctuation dropped; a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", prose(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_first_code_block_is_the_two_commands():
    assert first_bash_block(README.read_text()) == [BUILD, TEST]


def test_ci_runs_the_readme_test_command():
    """.ci/run's own extraction (its awk | grep line, run as is) finds the README's test command."""
    ci = (REPO / ".ci/run").read_text()
    m = re.search(r"^test_cmd=\$\((.*)\)$", ci, re.M)
    assert m, ".ci/run no longer sets test_cmd=$(...)"
    out = subprocess.run(
        ["bash", "-c", m.group(1)], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == TEST


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_and_images_resolve(doc):
    links = relative_links(doc.read_text())
    missing, outside, bad_anchor = [], [], []
    for path, anchor in links:
        target = (doc.parent / path).resolve() if path else doc
        if not target.is_relative_to(REPO):
            outside.append(path)
        elif not target.exists():
            missing.append(path)
        elif anchor and (target.suffix != ".md" or anchor not in anchors(target)):
            bad_anchor.append(f"{path}#{anchor}")
    assert (missing, outside, bad_anchor) == ([], [], []), (
        f"{doc.name}: missing {missing}, outside the repository {outside}, no such heading "
        f"{bad_anchor}"
    )
    files = sorted({str((doc.parent / p).resolve().relative_to(REPO)) for p, _ in links if p})
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *files], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    assert ignored == [], f"{doc.name} links to files git ignores (run outputs?): {ignored}"


def test_readme_links_the_docs_and_shows_the_report():
    links = {(REPO / path).resolve() for path, _ in relative_links(README.read_text())}
    assert DOCS, "no docs/*.md"
    assert set(DOCS) <= links, f"docs not linked from README: {set(DOCS) - links}"
    image = REPO / "docs/images/report.png"
    assert image in links and image.stat().st_size < 300_000
