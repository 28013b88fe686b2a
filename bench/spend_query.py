#!/usr/bin/env python3
"""GET /admin/spend over 90 days x 1,000 keys (issue 25's target: <= 200 ms).

  python3 bench/spend_query.py [KEYS] [DAYS]      defaults 1000 and 90

Starts its own redis-server on a free loopback port and the release ditto-gateway
(build/src/ditto-gateway) on it, fills the spend buckets as lua/settle.lua writes them
(P:spend:d:<day> and, for the last 31 days, P:spend:h:<hour>: one row per key, as a key with one
model would make), then times the Admin API's answer, 7 runs each, median and slowest:
  by day over DAYS days, grouped by key and model (KEYS x DAYS rows);
  by day over DAYS days, grouped by tenant;
  by hour over 7 days, grouped by key.
Bounded: every process is stopped at exit, every request has a timeout.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_scripts as v1  # noqa: E402  (start_redis, Conn, enc)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATEWAY = os.path.join(ROOT, "build", "src", "ditto-gateway")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fill(r, keys, days):
    now = int(time.time())
    today, hour = now // 86400, now // 3600
    cmds = []
    for d in range(days):
        fields = []
        for k in range(keys):
            fields += [f"key-{k}|gpt-4o|tenant-{k % 10}||", f"{100 + k} {5000 + k} {900} {1000} {7000}"]
        cmds.append(v1.enc("HSET", f"sq:spend:d:{today - d}", *fields))
    for h in range(24 * min(days, 31)):
        fields = []
        for k in range(keys):
            fields += [f"key-{k}|gpt-4o|tenant-{k % 10}||", "4 200 40 40 300"]
        cmds.append(v1.enc("HSET", f"sq:spend:h:{hour - h}", *fields))
    for i in range(0, len(cmds), 50):
        part = cmds[i:i + 50]
        r.s.sendall(b"".join(part))
        for _ in part:
            r.read()


def timed(port, query, runs=7):
    """Median and slowest of the answer's first byte (the gateway has read, summed and written
    the whole body by then: it is sent at once), and of the whole answer read here."""
    first, whole, size = [], [], 0
    for _ in range(runs):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        t = time.perf_counter()
        c.request("GET", f"/admin/spend?{query}", headers={"x-admin-token": "bench-admin"})
        res = c.getresponse()
        first.append((time.perf_counter() - t) * 1000)
        size = len(res.read())
        whole.append((time.perf_counter() - t) * 1000)
        c.close()
    return statistics.median(first), max(first), statistics.median(whole), size


def main():
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 90
    redis, rport = v1.start_redis()
    gw = None
    try:
        for _ in range(100):
            try:
                r = v1.Conn(rport)
                break
            except OSError:
                time.sleep(0.05)
        fill(r, keys, days)
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        cfg.write('{"backends":[{"name":"b","base_url":"http://127.0.0.1:9/v1"}],'
                  '"virtual_keys":[],"router":{"default_backends":[{"backend":"b"}]}}')
        cfg.close()
        port = free_port()
        gw = subprocess.Popen([GATEWAY, cfg.name, "--listen", f"127.0.0.1:{port}",
                               "--redis", f"redis://127.0.0.1:{rport}", "--redis-prefix", "sq",
                               "--admin-token", "bench-admin"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        now = int(time.time())
        frm = now - days * 86400
        print(f"spend buckets: {keys} keys x {days} days (and 31 days of hours), redis-server"
              f" and the gateway on this machine; load average {os.getloadavg()[0]:.2f}")
        for label, q in [
            (f"by day, {days} days, group_by=key,model",
             f"step=day&from={frm}&to={now + 1}&group_by=key,model"),
            (f"by day, {days} days, group_by=tenant", f"step=day&from={frm}&to={now + 1}&group_by=tenant"),
            ("by hour, 7 days, group_by=key", f"step=hour&from={now - 7 * 86400}&to={now + 1}&group_by=key"),
        ]:
            med, worst, read, size = timed(port, q)
            print(f"  {label:40s} first byte: median {med:6.1f} ms, slowest {worst:6.1f} ms;"
                  f" all {size} bytes read here: {read:6.1f} ms")
    finally:
        if gw:
            gw.terminate()
            gw.wait(timeout=10)
        redis.kill()
        redis.wait(timeout=10)


if __name__ == "__main__":
    main()
