#!/usr/bin/env python3
"""Redis CPU per store script, measured in isolation (docs/performance.md, "Redis").

  python3 bench/redis_scripts.py [N]    N requests (default 20000) per measurement

Starts its own redis-server on a free loopback port, loads the scripts exactly as
src/store/redis/scripts.cpp holds them, and drives each one as the governed key of bench/run.sh
does (one scope with rpm and tpm; a token and a USD budget line), 64 calls per pipelined
write. Prints Redis's own `usec_per_call` (INFO commandstats) for each: the server's CPU inside
the call, without the network. Settlement needs a reservation, so it is reported as
reserve+settle minus reserve. Bounded: every socket has a timeout, Redis is shut down at exit.
"""
import json
import re
import socket
import subprocess
import sys
import time

ROOT = __file__.rsplit("/bench/", 1)[0]


def scripts():
    src = open(f"{ROOT}/src/store/redis/scripts.cpp").read()

    def macro(name):
        body = re.search(r"#define " + name + r"(.*?)\n\n", src, re.S).group(1)
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
        return "".join(parts).encode().decode("unicode_escape")

    shared = {"DITTO_LUA_LEDGER": macro("DITTO_LUA_LEDGER"),
              "DITTO_LUA_RELEASE": macro("DITTO_LUA_RELEASE")}
    out = {"nop": "return 1"}
    for name in ["rate_admit", "rate_adjust", "budget_reserve", "budget_settle", "audit_append"]:
        m = re.search(r"constexpr std::string_view " + name + r'_src = (.*?)R"lua\((.*?)\)lua";',
                      src, re.S)
        text = "".join(v for k, v in shared.items() if k in m.group(1))
        out[name] = text + m.group(2)
    return out


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")

    def read(self):
        line = self.f.readline()
        kind = line[:1]
        if kind in b"+-:":
            return line
        if kind == b"$":
            n = int(line[1:])
            return None if n < 0 else self.f.read(n + 2)
        if kind == b"*":
            return [self.read() for _ in range(max(int(line[1:]), 0))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.s.sendall(enc(*args))
        return self.read()


PAYLOAD = json.dumps({"request_id": "req-0123456789abcdef", "virtual_key_id": "governed",
                      "method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o-mini",
                      "backend": "up", "status": 200, "prompt_tokens": 9,
                      "completion_tokens": 12, "total_tokens": 21, "cost_usd_micros": 9,
                      "duration_ms": 1})


def command(op, sha, i):
    rid = "req-%08d" % i
    if op == "nop":
        return enc("EVALSHA", sha, 0, "bench", rid)
    if op == "rate_admit":
        return enc("EVALSHA", sha, 0, "bench", 100, 1, "governed", 4000000000, 4000000000)
    if op == "rate_adjust":
        return enc("EVALSHA", sha, 0, "bench", int(time.time() // 60), 0, -79, "governed")
    if op == "budget_reserve":
        return enc("EVALSHA", sha, 0, "bench", rid, "governed", 2, "t", "governed",
                   10**15, 100, "u", "governed", 10**15, 50)
    if op == "budget_settle":
        return enc("EVALSHA", sha, 0, "bench", rid, 1, 21, 9)
    if op == "audit_append":
        return enc("EVALSHA", sha, 0, "bench", "proxy", PAYLOAD, int(time.time() * 1000),
                   2592000, "h%d" % i)
    raise ValueError(op)


def usec_per_call(conn, shas, ops, n):
    conn.call("FLUSHALL")
    conn.call("CONFIG", "RESETSTAT")
    for base in range(0, n, 64):
        batch = [command(op, shas[op], i) for i in range(base, base + 64) for op in ops]
        conn.s.sendall(b"".join(batch))
        for _ in batch:
            r = conn.read()
            if isinstance(r, bytes) and r.startswith(b"-"):
                raise RuntimeError(r.decode())
    stats = conn.call("INFO", "commandstats").decode()
    m = re.search(r"cmdstat_evalsha:calls=(\d+),usec=(\d+)", stats)
    return int(m.group(2)) / int(m.group(1)) * len(ops)


def start_redis():
    """A redis-server of its own on a free loopback port, without persistence: (process, port).
    Shared with bench/redis_v2.py. The caller stops it."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--logfile", ""],
                             stdout=subprocess.DEVNULL)
    return redis, port


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    redis, port = start_redis()
    try:
        for _ in range(100):
            try:
                conn = Conn(port)
                break
            except OSError:
                time.sleep(0.05)
        shas = {k: conn.call("SCRIPT", "LOAD", v).strip().decode() for k, v in scripts().items()}
        per = {}
        for op in ["nop", "rate_admit", "rate_adjust", "budget_reserve", "audit_append"]:
            per[op] = usec_per_call(conn, shas, [op], n)
        both = usec_per_call(conn, shas, ["budget_reserve", "budget_settle"], n)
        per["budget_settle"] = both - per["budget_reserve"]
        for op, us in per.items():
            print(f"{op:15s} {us:6.2f} us of Redis CPU per call")
        total = sum(v for k, v in per.items() if k != "nop")
        print(f"{'per request':15s} {total:6.2f} us (the five calls of a governed request)")
    finally:
        redis.terminate()
        redis.wait(timeout=10)


if __name__ == "__main__":
    main()
