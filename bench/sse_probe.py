#!/usr/bin/env python3
"""SSE probes for bench/run.sh: time to first byte, and many idle streams held open.

  sse_probe.py ttfb  PORT [N] [--key K] [--prefix /sse]
                                          median/p90 time to the first body byte (us); the
                                          prefix goes before /v1/… (nginx's SSE location)
  sse_probe.py idle  PORT N PID [--key K] open N slow streams, report PID's RSS growth (MB)
  sse_probe.py many  PORT N PID[,PID] [--key K] N concurrent paced streams read to the end: completed
                                          streams, the longest gap between two events, PID's RSS
                                          before, at peak and 3 s after (MB)

Loopback only, bounded: every socket has a timeout and everything closes on exit.
"""
import selectors
import socket
import statistics
import sys
import time

BODY = b'{"model":"sse-gpt","stream":true,"messages":[{"role":"user","content":"hi"}]}'
PREFIX = b""


def request(key, extra=b""):
    auth = b"Authorization: Bearer " + key.encode() + b"\r\n" if key else b""
    return (b"POST " + PREFIX + b"/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n"
            + auth + extra + b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


first_byte_at = 0.0


def read_response(sock):
    """Reads one chunked response; records when its first body chunk arrived."""
    global first_byte_at
    buf = b""
    first = None
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    buf = rest
    while True:
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line, 16)
        if first is None:
            first = first_byte_at = time.perf_counter()
        while len(buf) < size + 2:
            buf += sock.recv(65536)
        buf = buf[size + 2:]
        if size == 0:
            return first


def ttfb(port, n, key):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(request(key))
        read_response(s)
        samples.append(first_byte_at - t0)
    s.close()
    samples.sort()
    return statistics.median(samples) * 1e6, samples[int(len(samples) * 0.9)] * 1e6


def rss_mb(pids):
    """The summed RSS of one PID or of several ("p1,p2": gateway processes sharing a port)."""
    total = 0.0
    for pid in str(pids).split(","):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024.0
    return total


def idle(port, n, pid, key):
    before = rss_mb(pid)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        # One event now, the next in 20 s: the stream stays open and idle meanwhile.
        s.sendall(request(key, b"x-mock-chunk-delay-ms: 20000\r\n"))
        socks.append(s)
    for s in socks:
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        if b" 200 " not in data.split(b"\r\n", 1)[0]:
            raise SystemExit("idle: a stream was refused: " + data.split(b"\r\n", 1)[0].decode())
    time.sleep(0.5)
    during = rss_mb(pid)
    for s in socks:
        s.close()
    return before, during


def many(port, n, pid, key, gap_ms=500, deadline_s=120):
    """N streams at once, each paced by the mock (one event per gap_ms): every one must reach
    its terminating chunk, and no gap between two reads may exceed a few paces (a stall)."""
    before = rss_mb(pid)
    sel = selectors.DefaultSelector()
    req = request(key, b"x-mock-chunk-delay-ms: " + str(gap_ms).encode() + b"\r\n")
    state = {}  # socket -> [last read time, longest gap, done, received bytes]
    peak = before
    start = time.monotonic()
    opened = 0
    while time.monotonic() - start < deadline_s:
        # Open in batches so the accept backlog is never the limit being measured.
        while opened < n and sum(1 for v in state.values() if v[3] == 0) < 500:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(req)
            s.setblocking(False)
            state[s] = [time.monotonic(), 0.0, False, 0, b""]
            sel.register(s, selectors.EVENT_READ)
            opened += 1
        if opened == n and all(v[2] for v in state.values()):
            break
        for key_, _ in sel.select(timeout=0.2):
            s = key_.fileobj
            v = state[s]
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            now = time.monotonic()
            if v[3]:
                v[1] = max(v[1], now - v[0])
            v[0] = now
            v[3] += len(data)
            v[4] = (v[4] + data)[-16:]
            if not data or v[4].endswith(b"0\r\n\r\n"):
                v[2] = bool(data)
                sel.unregister(s)
        peak = max(peak, rss_mb(pid))
    completed = sum(1 for v in state.values() if v[2])
    longest = max((v[1] for v in state.values()), default=0.0)
    for s in state:
        s.close()
    time.sleep(3)
    return completed, longest * 1000, before, peak, rss_mb(pid)


def main():
    global PREFIX
    args = sys.argv[1:]
    key = ""
    if "--prefix" in args:
        i = args.index("--prefix")
        PREFIX = args[i + 1].encode()
        del args[i:i + 2]
    if "--key" in args:
        i = args.index("--key")
        key = args[i + 1]
        del args[i:i + 2]
    if args[0] == "ttfb":
        med, p90 = ttfb(int(args[1]), int(args[2]) if len(args) > 2 else 300, key)
        print(f"{med:.0f} {p90:.0f}")
    elif args[0] == "idle":
        before, during = idle(int(args[1]), int(args[2]), int(args[3]), key)
        print(f"{before:.1f} {during:.1f} {during - before:.1f}")
    elif args[0] == "many":
        done, gap, before, peak, after = many(int(args[1]), int(args[2]), args[3], key)
        print(f"{done} {gap:.0f} {before:.1f} {peak:.1f} {after:.1f}")


if __name__ == "__main__":
    main()
