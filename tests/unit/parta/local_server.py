"""A local HTTP server in a thread for download tests (tests never touch the internet).

Each path is a behaviour; ``server.hits[path]`` counts the requests it got::

    /ok.png          a small PNG                    /html      an HTML page
    /status/<code>   that HTTP status               /big       a body over ``big`` bytes
    /flaky/<n>       503 for the first n requests, then the PNG
    /truncated       Content-Length 1000, 10 bytes sent, then the connection closes
    /slow            one byte every 50 ms for 10 s  /redirect  302 to a file:// URL
    /auth            the PNG with basic auth user:secret, else 401
"""

from __future__ import annotations

import base64
import collections
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def png_bytes(size=(8, 8), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "image/png", length: int | None = None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        srv = self.server
        path = self.path.split("?")[0]
        srv.hits[path] += 1
        srv.headers_seen.append(dict(self.headers))
        try:
            if path == "/ok.png":
                self._send(200, srv.png)
            elif path.startswith("/status/"):
                self._send(int(path.rsplit("/", 1)[1]), b"no", "text/plain")
            elif path.startswith("/flaky/"):
                if srv.hits[path] <= int(path.rsplit("/", 1)[1]):
                    self._send(503, b"busy", "text/plain")
                else:
                    self._send(200, srv.png)
            elif path == "/html":
                self._send(200, b"<html>login</html>" * 10, "text/html; charset=utf-8")
            elif path == "/big":
                self._send(200, b"\0" * srv.big, "application/octet-stream")
            elif path == "/big-unsized":  # no Content-Length: the size shows while reading
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                for _ in range(srv.big // 4096 + 2):
                    self.wfile.write(b"\0" * 4096)
            elif path == "/truncated":
                self._send(200, srv.png[:10], length=1000)
            elif path == "/slow":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", "200")
                self.end_headers()
                for _ in range(200):
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.05)
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()
            elif path == "/auth":
                want = "Basic " + base64.b64encode(b"user:secret").decode()
                if self.headers.get("Authorization") == want:
                    self._send(200, srv.png)
                else:
                    self._send(401, b"who?", "text/plain")
            else:
                self._send(404, b"not here", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (deadline, size cap)


class LocalServer:
    """``with LocalServer() as s: s.url("/ok.png")``."""

    def __init__(self, big: int = 4096):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.hits = collections.Counter()
        self.httpd.headers_seen = []
        self.httpd.png = png_bytes()
        self.httpd.big = big
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hits(self) -> collections.Counter:
        return self.httpd.hits

    @property
    def png(self) -> bytes:
        return self.httpd.png

    def url(self, path: str, auth: str = "") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{auth}{host}:{port}{path}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
