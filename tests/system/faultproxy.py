"""
A fault-injecting HTTP proxy on 127.0.0.1 for ferry's system tests: it sits
between the forwarder and the real sink and, on demand, misbehaves the way
networks and collectors do.

It understands just enough HTTP/1.1 to find where each request and each
response ends (Content-Length, chunked, or close), so it can answer in the
sink's place, stall or cut a request in the middle, and log every request
(arrival and completion times, what was done, the status, the body). With
connection reuse the forwarder keeps one connection to it; the proxy keeps
one upstream connection to the sink per client connection.

Modes (set_mode(); counted ones go back to "pass" by themselves):

  pass      relay to the sink; an upstream failure is answered 502
  refuse    the port is not listening and every open connection is closed:
            connect() is refused, as with a sink that is down
  reset     read the head and half the body, then close with RST
            (SO_LINGER 0); the rest is never read
  stall     read the request, answer nothing until the mode changes, then
            relay it (the client may have given up by then)
  slow      relay, reading the request and writing the answer at `rate`
            bytes per second (a request that began in this mode ends in it)
  status    answer `status` (with `headers`) without relaying
  swallow   read nothing and write nothing on any connection, new or old,
            and keep them all open, until the mode changes; then go on

Only the standard library: one thread accepting and a thread per client
connection. Every thread polls with short timeouts, so close() ends them all
promptly; nothing here signals a process.
"""
import select
import socket
import struct
import threading
import time

IO_TICK = 0.05          # seconds between checks of the mode while waiting
UPSTREAM_TIMEOUT = 30.0
MAX_HEAD = 64 << 10

REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable"}


class Closed(Exception):
    """The client or the proxy closed this connection."""


class Request:
    """One request the proxy took (or began to take), for the test to read."""

    def __init__(self, cid, t_start):
        self.cid = cid
        self.t_start = t_start      # monotonic: the head was read
        self.t_answer = None        # monotonic: the answer was written
        # monotonic: the answer began to be written. The client cannot have
        # it earlier, so a wait it owes after the answer (Retry-After) is
        # measured from here: t_answer is taken once this thread runs again,
        # which on a loaded machine can be well after the client read it.
        self.t_reply = None
        self.action = None          # pass, reset, stall, slow, status, swallow
        self.status = None          # what the client was answered, if anything
        self.upstream_status = None  # what the sink answered, if relayed
        self.body = b""
        self.client_gone = False    # the client closed before the answer
        self.held = 0.0             # seconds held (stall, swallow)

    def lines(self):
        return [l for l in self.body.decode(errors="replace").split("\n") if l]

    def __repr__(self):
        return ("Request(cid=%d t=%.3f action=%s status=%s bytes=%d held=%.1f%s)"
                % (self.cid, self.t_start, self.action, self.status,
                   len(self.body), self.held,
                   " client_gone" if self.client_gone else ""))


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.cond = threading.Condition()
        self.mode = "pass"
        self.params = {}
        self.count = None           # requests left in a counted mode
        self.closing = False
        self.listener = None
        self.conns = {}             # cid -> client socket
        self.next_cid = 0
        self.accepted = []          # (monotonic time, cid)
        self.requests = []          # Request, in arrival order
        self.threads = []
        self._listen(0)
        self.port = self.listener.getsockname()[1]
        self.acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                         name="faultproxy-accept")
        self.acceptor.start()

    # -- control ----------------------------------------------------------

    def set_mode(self, mode, count=None, **params):
        """
        Switch to mode now. With count, the mode covers that many requests
        (each taking it counts as one) and then goes back to "pass".
        Parameters: rate (slow; bytes/s), status and headers (status).
        """
        assert mode in ("pass", "refuse", "reset", "stall", "slow", "status",
                        "swallow"), mode
        with self.cond:
            self.mode = mode
            self.params = params
            self.count = count
            self.cond.notify_all()
        if mode == "refuse":
            # A sink that is down keeps no connection either.
            with self.cond:
                socks = list(self.conns.values())
            for s in socks:
                _close_quietly(s)

    def passthrough(self):
        self.set_mode("pass")

    def wait_mode(self, mode, timeout):
        """Wait until the mode is `mode` (a counted mode ran out); bool."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.mode != mode:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def snapshot(self):
        with self.cond:
            return list(self.requests)

    def connections(self):
        """[(monotonic time accepted, cid)]."""
        with self.cond:
            return list(self.accepted)

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()
            socks = list(self.conns.values())
        for s in socks:
            _close_quietly(s)
        self.acceptor.join(timeout=5)
        for t in list(self.threads):
            t.join(timeout=5)
        if self.listener is not None:
            _close_quietly(self.listener)
            self.listener = None

    # -- accepting --------------------------------------------------------

    def _listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        self.listener = s

    def _accept_loop(self):
        while True:
            with self.cond:
                if self.closing:
                    return
                refusing = self.mode == "refuse"
            if refusing:
                if self.listener is not None:
                    # Not listening at all: connect() gets ECONNREFUSED, and
                    # what waited in the backlog is reset.
                    _close_quietly(self.listener)
                    self.listener = None
                with self.cond:
                    self.cond.wait(IO_TICK)
                continue
            if self.listener is None:
                try:
                    self._listen(self.port)
                except OSError:
                    time.sleep(IO_TICK)     # TIME_WAIT or a squatter: again
                    continue
            r, _, _ = select.select([self.listener], [], [], IO_TICK)
            if not r:
                continue
            try:
                cs, _ = self.listener.accept()
            except OSError:
                continue
            cs.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.cond:
                if self.mode == "refuse" or self.closing:
                    _close_quietly(cs)
                    continue
                cid = self.next_cid
                self.next_cid += 1
                self.conns[cid] = cs
                self.accepted.append((time.monotonic(), cid))
            t = threading.Thread(target=self._serve, args=(cs, cid), daemon=True,
                                 name="faultproxy-%d" % cid)
            self.threads = [x for x in self.threads if x.is_alive()]
            self.threads.append(t)
            t.start()

    # -- one client connection --------------------------------------------

    def _take(self):
        """The action for a request that just arrived, counting it."""
        with self.cond:
            mode, params = self.mode, dict(self.params)
            if self.count is not None:
                self.count -= 1
                if self.count <= 0:
                    self.mode, self.params, self.count = "pass", {}, None
                    self.cond.notify_all()
            return mode, params

    def _current(self):
        with self.cond:
            if self.closing:
                raise Closed()
            return self.mode, self.params

    def _hold(self, cs, req, mode):
        """Hold while the proxy is in `mode`; notes a client that goes away."""
        t0 = time.monotonic()
        while True:
            with self.cond:
                if self.closing:
                    raise Closed()
                if self.mode != mode:
                    break
                self.cond.wait(IO_TICK)
            if req is not None and not req.client_gone and _peer_closed(cs):
                req.client_gone = True
        if req is not None:
            req.held += time.monotonic() - t0

    def _serve(self, cs, cid):
        conn = _Conn(cs)
        up = None
        try:
            while True:
                # Wait for the next request without reading it, so that
                # "swallow" can leave it in the socket unread.
                while True:
                    mode, _ = self._current()
                    if mode == "swallow":
                        self._hold(cs, None, "swallow")
                        continue
                    if _readable(cs, IO_TICK):
                        break
                if not conn.peek():
                    return      # the client closed its idle connection
                # Decided before reading, so that "reset" and "slow" act on
                # the request's own bytes, which the kernel has buffered.
                mode, params = self._take()
                rate = params.get("rate") if mode == "slow" else None
                head = conn.read_head(self, rate)
                req = Request(cid, time.monotonic())
                req.action = mode
                with self.cond:
                    self.requests.append(req)
                clen = head.content_length()
                if mode == "reset":
                    # Half the body, then RST instead of FIN: the rest is
                    # left unread.
                    req.body = conn.read_body(self, clen // 2)
                    _reset(cs)
                    req.t_answer = time.monotonic()
                    return
                req.body = conn.read_body(self, clen, rate)
                if mode == "stall":
                    self._hold(cs, req, "stall")
                elif mode == "swallow":
                    self._hold(cs, req, "swallow")
                if mode == "status":
                    status = params["status"]
                    resp = _response(status, params.get("headers", {}))
                else:
                    raw = head.raw + req.body
                    up, status, resp = self._relay(up, raw)
                    req.upstream_status = status
                    # Swallowing began while the sink answered: hold it.
                    if self._current()[0] == "swallow":
                        self._hold(cs, req, "swallow")
                req.status = status
                req.t_reply = time.monotonic()
                if not conn.write(self, resp, rate):
                    req.client_gone = True
                    return
                req.t_answer = time.monotonic()
                if req.client_gone:
                    return
        except (Closed, OSError, ValueError):
            pass    # ValueError: another thread closed the socket (refuse)
        finally:
            with self.cond:
                self.conns.pop(cid, None)
            _close_quietly(cs)
            if up is not None:
                _close_quietly(up)

    def _relay(self, up, raw):
        """Send raw to the sink, return (upstream socket, status, response)."""
        for attempt in (0, 1):
            reused = up is not None
            try:
                if up is None:
                    up = socket.create_connection(self.upstream,
                                                  timeout=UPSTREAM_TIMEOUT)
                    up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                up.sendall(raw)
                status, resp, keep = _read_response(up)
                if not keep:
                    _close_quietly(up)
                    up = None
                return up, status, resp
            except (OSError, ValueError):
                if up is not None:
                    _close_quietly(up)
                    up = None
                if attempt == 0 and reused:
                    continue    # the sink closed an idle connection: again
                return None, 502, _response(502)
        return None, 502, _response(502)


# -- HTTP plumbing -----------------------------------------------------------

class _Head:
    def __init__(self, raw):
        self.raw = raw
        lines = raw.decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()

    def content_length(self):
        return int(self.headers.get("content-length", "0"))


class _Conn:
    """
    A client socket, read exactly: never past the request at hand, so what
    a mode leaves unread stays in the kernel's buffer (and a RST drops it).
    """

    def __init__(self, sock):
        self.sock = sock

    def peek(self):
        """Bytes waiting (without taking them); b"" at EOF."""
        return self.sock.recv(MAX_HEAD, socket.MSG_PEEK)

    def _recv(self, proxy, n, rate):
        if rate:
            n = min(n, max(1, int(rate * IO_TICK)))
        while not _readable(self.sock, IO_TICK):
            proxy._current()        # raises Closed when the proxy closes
        data = self.sock.recv(n)
        if not data:
            raise Closed()
        if rate:
            time.sleep(len(data) / float(rate))
        return data

    def read_head(self, proxy, rate=None):
        # Find the end of the head in what is buffered, then take just it.
        while True:
            while not _readable(self.sock, IO_TICK):
                proxy._current()
            seen = self.peek()
            if not seen:
                raise Closed()
            end = seen.find(b"\r\n\r\n")
            if end != -1:
                break
            if len(seen) >= MAX_HEAD:
                raise Closed()
            time.sleep(0.005)       # the rest of the head is on its way
        want, raw = end + 4, b""
        while len(raw) < want:
            raw += self._recv(proxy, want - len(raw), rate)
        return _Head(raw)

    def read_body(self, proxy, n, rate=None):
        body = b""
        while len(body) < n:
            body += self._recv(proxy, n - len(body), rate)
        return body

    def write(self, proxy, data, rate=None):
        try:
            if not rate:
                self.sock.sendall(data)
                return True
            step = max(1, int(rate * IO_TICK))
            for i in range(0, len(data), step):
                proxy._current()
                self.sock.sendall(data[i:i + step])
                time.sleep(len(data[i:i + step]) / float(rate))
            return True
        except OSError:
            return False


def _response(status, headers=None, body=b""):
    h = dict(headers or {})
    h["Content-Length"] = str(len(body))
    text = "HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Status"))
    text += "".join("%s: %s\r\n" % kv for kv in h.items())
    return text.encode("latin-1") + b"\r\n" + body


def _recv_exact(sock, buf, n):
    while len(buf) < n:
        data = sock.recv(max(65536, n - len(buf)))
        if not data:
            raise ValueError("upstream closed mid-response")
        buf += data
    return buf


def _read_response(sock):
    """(status, raw response, keep-alive) read from the sink."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ValueError("upstream closed before answering")
        buf += data
    raw_head, rest = buf.split(b"\r\n\r\n", 1)
    head = _Head(raw_head + b"\r\n\r\n")
    status = int(head.start.split()[1])
    keep = head.headers.get("connection", "").lower() != "close"
    if "content-length" in head.headers:
        n = head.content_length()
        rest = _recv_exact(sock, rest, n)
        return status, head.raw + rest[:n], keep
    if head.headers.get("transfer-encoding", "").lower() == "chunked":
        body = rest
        while not body.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            if not data:
                raise ValueError("upstream closed mid-chunk")
            body += data
        return status, head.raw + body, keep
    # Delimited by the close.
    while True:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return status, head.raw + rest, False


# -- sockets -------------------------------------------------------------------

def _readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def _peer_closed(sock):
    """Whether the peer closed (EOF or RST), without consuming data."""
    if not _readable(sock, 0):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _close_quietly(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
