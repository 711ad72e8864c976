"""Headless Chromium over the DevTools protocol, for checking the rendered report in a real browser.

``ensure_chromium()`` finds Debian's ``chromium`` (installing it with apt-get when running as root
and it is missing); ``inspect_page()`` opens a file:// URL with networking disabled, waits for
every image, and returns what the page shows (image sizes, formula elements, visible text),
console errors, every URL requested, a full-page PNG screenshot and a small one of the top of the
page. ``system_tests_skipped()`` says whether the user asked to skip the tests that install system
packages (``FUNDIFF_SKIP_SYSTEM_TESTS``).

The README's image of the report is made by the same code, from a finished run::

    python -m tests.helpers.chromium screenshot results/report/index.html docs/images/report.png
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SKIP_ENV = "FUNDIFF_SKIP_SYSTEM_TESTS"
# The small screenshot: the top SMALL_TOP CSS pixels of the page at its inspection width, scaled
# to SMALL_WIDTH pixels wide (a README-sized picture of what the report looks like). 1400 reaches
# past the table of contents to the first figure (A0); 800 would show the contents only.
SMALL_WIDTH = 900
SMALL_TOP = 1400

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    # no network at all: unreachable proxy and no DNS (file:// is unaffected)
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def system_tests_skipped() -> str | None:
    """The skip reason when FUNDIFF_SKIP_SYSTEM_TESTS is set (not empty, not 0), else None.

    Tests that install system packages as root (Debian's chromium here, slurm-wlm and munge for
    the Slurm test) are skipped on request, so a user can run the suite without them; CI leaves
    the variable unset and runs them.
    """
    if os.environ.get(SKIP_ENV, "") in ("", "0"):
        return None
    return f"{SKIP_ENV} is set: skipping a test that installs system packages with apt-get as root"


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """(path, why-not). Installs Debian's chromium with apt-get if missing and we are root."""
    path = find_chromium()
    if path:
        return path, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed and apt-get is unavailable (not root?)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = []
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        for _attempt in range(10):  # another apt-get may hold the dpkg lock for a while
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
            if p.returncode == 0 or "lock" not in (p.stderr + p.stdout):
                break
            time.sleep(15)
        log.append(f"$ {' '.join(cmd)} -> {p.returncode}\n{p.stderr[-1500:]}")
        if p.returncode != 0:
            return None, "apt-get failed:\n" + "\n".join(log)
    path = find_chromium()
    return path, "" if path else "apt-get install chromium gave no chromium binary"


class _CDP:
    """Minimal DevTools client over one websocket, flattened target sessions."""

    def __init__(self, ws_url: str, timeout: float = 60):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for e in self.events:
            if e.get("method") == method:
                return e
        while time.monotonic() < deadline:
            e = json.loads(self.ws.recv())
            self.events.append(e)
            if e.get("method") == method:
                return e
        raise TimeoutError(method)

    def close(self):
        self.ws.close()


_PAGE_STATE = """(async () => {
  await Promise.all([...document.images].map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  const main = document.querySelector('main') || document.body;
  return JSON.stringify({
    images: [...document.images].map(i => ({src: i.getAttribute('src'),
        naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
        rotated: getComputedStyle(i).transform})),
    math: document.querySelectorAll('math').length,
    mathBoxes: [...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().width > 0).length,
    text: main.innerText,
    headings: [...document.querySelectorAll('h2, h3')].map(h => h.textContent.trim()),
  });
})()"""


def _small_png(png: bytes) -> bytes:
    """``png`` as a palette PNG (256 colours): the report is text and grayscale figures on white,
    and the palette makes the README's picture about 2.5x smaller than Chromium's RGB output (60
    vs 150 KB for the embedded run's report) with no visible change."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def inspect_page(
    chromium: str,
    url: str,
    screenshot: Path | None,
    width: int = 1200,
    small_screenshot: Path | None = None,
) -> dict:
    """Load ``url`` and return page state, console errors, requested URLs.

    ``screenshot``: the whole page (``width`` CSS pixels wide, at most 16000 tall) as a PNG.
    ``small_screenshot``: the top ``SMALL_TOP`` CSS pixels scaled to ``SMALL_WIDTH`` pixels wide.
    """
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    cdp = None
    try:
        ws_url, seen = None, []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ws_url is None:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
        if ws_url is None:
            raise RuntimeError("chromium did not start:\n" + "".join(seen[-30:]))
        # keep draining stderr so that a chatty browser never blocks on a full pipe
        threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
        cdp = _CDP(ws_url)
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable", session=s)
        cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=s,
        )
        cdp.events.clear()
        cdp.send("Page.navigate", {"url": url}, session=s)
        cdp.wait_event("Page.loadEventFired")
        state = cdp.send(
            "Runtime.evaluate",
            {"expression": _PAGE_STATE, "awaitPromise": True, "returnByValue": True},
            session=s,
        )
        result = json.loads(state["result"]["value"])
        if screenshot is not None:
            size = cdp.send("Page.getLayoutMetrics", session=s)["cssContentSize"]
            h = min(int(size["height"]), 16000)
            shot = cdp.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": h, "scale": 1},
                },
                session=s,
            )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        if small_screenshot is not None:
            shot = cdp.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": SMALL_TOP,
                        "scale": SMALL_WIDTH / width,
                    },
                },
                session=s,
            )
            small_screenshot.parent.mkdir(parents=True, exist_ok=True)
            small_screenshot.write_bytes(_small_png(base64.b64decode(shot["data"])))
        errors, requests = [], []
        for e in cdp.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif m == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(p["entry"]["text"] + " " + p["entry"].get("url", ""))
            elif m == "Network.requestWillBeSent":
                requests.append(p["request"]["url"])
            elif m == "Network.loadingFailed":
                errors.append(f"loading failed: {p.get('errorText')}")
        return {**result, "console_errors": errors, "requests": requests}
    finally:
        if cdp is not None:
            try:
                cdp.send("Browser.close")
            except Exception:
                pass
            cdp.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``screenshot INDEX_HTML OUT_PNG``: the small screenshot of a finished report.

    The page is checked as the browser test checks it (every image loads, no console error, no
    network request) so that a broken page is never saved as the README's picture.
    """
    parser = argparse.ArgumentParser(prog="python -m tests.helpers.chromium")
    sub = parser.add_subparsers(dest="command", required=True)
    shot = sub.add_parser("screenshot", help="small PNG of the top of a report page")
    shot.add_argument("page", type=Path, help="results/report/index.html of a finished run")
    shot.add_argument("out", type=Path, help="where to write the PNG")
    args = parser.parse_args(argv)
    chromium, why = ensure_chromium()
    if chromium is None:
        print(f"error: no browser: {why}", file=sys.stderr)
        return 1
    state = inspect_page(chromium, args.page.resolve().as_uri(), None, small_screenshot=args.out)
    broken = [i["src"] for i in state["images"] if i["naturalWidth"] <= 0]
    offsite = [u for u in state["requests"] if not u.startswith(("file:", "data:"))]
    problems = broken + state["console_errors"] + offsite
    if problems:
        args.out.unlink()
        print(f"error: the page has problems, nothing saved: {problems}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
