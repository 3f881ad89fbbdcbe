"""
A headless Chromium driven over its DevTools protocol, with the standard
library only: Debian's `chromium` is started with a debugging port of its
own choosing (written to DevToolsActivePort in a fresh profile folder), and
this speaks the protocol to the page over a WebSocket (RFC 6455, client
side: masked frames out, fragments and pings in), so the browser test needs
neither npm nor PyPI.

    with Chromium(tmp_path) as browser:
        page = browser.page()
        page.goto("http://127.0.0.1:8080/")
        page.wait("document.querySelector('svg') !== null")
        page.eval("1 + 1")              # -> 2
        page.screenshot(tmp_path / "page.png")

Only the process started here is ever signalled, by its pid.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

# As root in a container: no sandbox, shared memory in /tmp (a container's
# /dev/shm is often 64 MB), and nothing that reaches out to the network (the
# machine's closed network refuses it, and slowly).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions",
         "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
         "--remote-allow-origins=*")


def find_chromium():
    """The path of Chromium, or None."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


class CDPError(Exception):
    pass


class WebSocket:
    """The client side of RFC 6455, enough for the DevTools protocol."""

    def __init__(self, url, timeout=30):
        assert url.startswith("ws://"), url
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CDPError("the WebSocket handshake was cut")
            head += chunk
        head, _, self.pending = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise CDPError("WebSocket handshake refused: %r" % head[:200])

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(max(65536, n - len(self.pending)))
            if not chunk:
                raise CDPError("the browser closed the connection")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next whole text message."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise CDPError("the browser closed the WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Page:
    """One tab: commands, and the events seen while waiting for answers."""

    def __init__(self, ws_url, timeout=30):
        self.ws = WebSocket(ws_url, timeout)
        self.next_id = 0
        self.events = []
        self.console = []

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        method = msg.get("method", "")
        if method == "Runtime.consoleAPICalled":
            args = msg["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                         for a in args))
        elif method == "Runtime.exceptionThrown":
            d = msg["params"]["exceptionDetails"]
            self.console.append("exception: %s" % d.get("exception", {})
                                .get("description", d.get("text")))
        else:
            self.events.append(msg)
            del self.events[:-200]

    def eval(self, expr, timeout=30):
        """The value of a JavaScript expression (a promise is awaited)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True, timeout=int(timeout * 1000))
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("%s: %s" % (expr[:80], d.get("exception", {})
                                       .get("description", d.get("text"))))
        return r["result"].get("value")

    def wait(self, expr, timeout=10, interval=0.05, what=None):
        """Poll expr until it is truthy; its value. AssertionError past timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.eval(expr)
            if last:
                return last
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %.1f s waiting for %s "
                                     "(last: %r; console: %s)"
                                     % (timeout, what or expr, last,
                                        self.console[-5:]))
            time.sleep(interval)

    def goto(self, url, timeout=30):
        """Navigate and wait for the load event."""
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href === %s"
                  % json.dumps(url), timeout, what="the load of " + url)

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png",
                      captureBeyondViewport=True)
        Path(path).write_bytes(base64.b64decode(r["data"]))
        return Path(path)

    def close(self):
        self.ws.close()


class Chromium:
    """A headless Chromium in a fresh profile under folder; a context manager."""

    def __init__(self, folder, width=1280, height=900, timeout=30):
        self.path = find_chromium()
        if self.path is None:
            raise CDPError("chromium is not installed")
        self.folder = Path(folder)
        self.profile = self.folder / "chromium-profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        # A port file left by an earlier browser would name a dead port.
        (self.profile / "DevToolsActivePort").unlink(missing_ok=True)
        self.log_path = self.folder / "chromium.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.path, *FLAGS, "--user-data-dir=%s" % self.profile,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.pages = []
        try:
            self.port = self._port(timeout)
        except BaseException:
            self.close()
            raise

    def _port(self, timeout):
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CDPError("chromium exited %s at start:\n%s"
                               % (self.proc.returncode, self.log_path.read_text(
                                   errors="replace")[-2000:]))
            try:
                return int(active.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        raise CDPError("chromium wrote no DevToolsActivePort in %d s" % timeout)

    def page(self):
        """The first tab, attached, with the page and runtime domains on."""
        url = "http://127.0.0.1:%d/json/list" % self.port
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(url, timeout=5) as r:
                tabs = [t for t in json.load(r) if t.get("type") == "page"]
            if tabs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not tabs:
            raise CDPError("chromium has no page to drive")
        p = Page(tabs[0]["webSocketDebuggerUrl"])
        p.call("Page.enable")
        p.call("Runtime.enable")
        self.pages.append(p)
        return p

    def close(self):
        for p in self.pages:
            p.close()
        if self.proc.poll() is None:
            # The whole group: chromium's renderer and utility processes.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
