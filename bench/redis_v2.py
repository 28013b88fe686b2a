#!/usr/bin/env python3
"""Layout v2 Redis scripts (docs/redis.md, "Layout v2"): correctness checks, then Redis CPU.

  python3 bench/redis_v2.py [N] [M]

N governed requests for the DBSIZE run (default 100000), M per row of the CPU table (16000).

Starts its own redis-server on a free loopback port, SCRIPT LOADs src/store/redis/lua/{admit,
settle,reap}.lua, runs the checks (each prints PASS or FAIL; any FAIL exits 1), then drives the
governed key of bench/redis_scripts.py (one scope with rpm and tpm, a token and a USD budget
line, a ~600-byte audit record) through admit + settle, 64 requests per pipelined write, with
settlements one per call and grouped by 8 and 32, and v1's five calls (bench/redis_scripts.py,
same record) in turns with them. Prints Redis's own CPU inside the scripts (INFO commandstats,
evalsha usec; the median of the 64-request rounds, so rounds spent preempted on a busy machine
do not count), the commands the scripts ran per request, and DBSIZE before and after the N
requests. Bounded: socket timeouts, a 115 s alarm, redis-server killed at exit.
"""
import json
import os
import re
import signal
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.path.join(ROOT, "src", "store", "redis", "lua")
RETENTION_MS = 2592000 * 1000
SPEND_RETENTION_S = 90 * 86400

# v1's scripts, its RESP encoder and its redis-server start-up (no bytecode left in bench/).
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.dont_write_bytecode = True
import redis_scripts as v1  # noqa: E402

enc = v1.enc


class RedisError(Exception):
    pass


class Conn(v1.Conn):
    """v1's connection, with replies decoded: errors returned as RedisError, strings as str."""

    def read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())  # returned, not raised: checks look at it
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def ok(self, *args):
        r = self.call(*args)
        if isinstance(r, RedisError):
            raise r
        return r


SHA = {}


class Layout:
    """Key names of one prefix: every key is built here, never in Lua."""

    def __init__(self, p):
        self.p = p
        self.reap = f"{p}:reap"
        self.audit = f"{p}:audit"

    def scope(self, s):
        return f"{self.p}:scope:{s}"

    def res(self, sec):
        return f"{self.p}:res:{sec}"

    def once(self, rid):
        return f"{self.p}:once:{rid}"

    def spend(self, kind, n):
        return f"{self.p}:spend:{kind}:{n}"


def admit_cmd(L, rid, sec, charge, scopes):
    """scopes: (name, rpm, tpm, token budget, usd budget, reserve tokens, reserve usd
    [, window, expiry]); a budget period's window and expiry default to 0 (none)."""
    keys = [L.scope(s[0]) for s in scopes] + [L.res(sec)]
    argv = [rid, sec, charge]
    for s in scopes:
        argv.extend(s[1:])
        argv.extend([0, 0][len(s) - 7:])
    return ("EVALSHA", SHA["admit"], len(keys), *keys, *argv)


def settle_cmd(L, items, retention=RETENTION_MS):
    """items: dicts with rid, sec, scopes, flag ('c', 'r', 'a'), and optionally tokens, usd,
    refund, delta, kind, payload, once (the marker of an 'a' record)."""
    keys = [L.reap, L.audit]
    index = {}

    def ref(k):
        if k not in index:
            keys.append(k)
            index[k] = len(keys)
        return index[k]

    argv = [retention, SPEND_RETENTION_S]
    for it in items:
        if it["flag"] == "a":
            key = ref(L.once(it["once"])) if it.get("once") else 0
        else:
            key = ref(L.res(it["sec"]))
        scopes = [ref(L.scope(s)) for s in it.get("scopes", [])]
        # issue 25's spend: {"hour": h, "dims": "...", "amounts": "i o c u"}; none by default
        sp = it.get("spend")
        spend = [0, 0, "", ""]
        if sp:
            spend = [ref(L.spend("h", sp["hour"])), ref(L.spend("d", sp["hour"] // 24)),
                     sp["dims"], sp["amounts"]]
        argv += [it.get("rid", ""), it.get("sec", 0), key, it["flag"], it.get("tokens", -1),
                 it.get("usd", -1), it.get("refund", 0), it.get("delta", 0),
                 it.get("kind", "proxy"), it.get("payload", "{}"), *spend, len(scopes), *scopes]
    return ("EVALSHA", SHA["settle"], len(keys), *keys, *argv)


def admit(r, L, rid, sec, charge, scopes):
    """The reply's code: a budget refusal's pair {code, attempted} gives its code."""
    got = r.call(*admit_cmd(L, rid, sec, charge, scopes))
    return got[0] if isinstance(got, list) else got


def settle(r, L, items, retention=RETENTION_MS):
    return r.call(*settle_cmd(L, items, retention))


def redis_now(r):
    t = r.ok("TIME")
    return int(t[0]), int(t[1])


def minute_room(r, need=6):
    """Sleep into the next minute when fewer than `need` seconds are left in this one."""
    now, usec = redis_now(r)
    left = 60 - now % 60 - usec / 1e6
    if left < need:
        time.sleep(left + 0.05)


def wait_until(r, sec):
    while redis_now(r)[0] < sec:
        time.sleep(0.05)


def entry_names(v):
    """The scope keys an entry names (the reaper's read before the call)."""
    if v in ("r", "x"):
        return []
    f = v.split(" ")
    return f[1 + 2 * (len(f) - 1) // 3:]


def reap_cmd(r, L, lease, first=None):
    """What a reaper does: read the watermark and TIME, read the buckets, build the call."""
    wm = r.ok("GET", L.reap)
    now = redis_now(r)[0]
    start = int(wm) if wm is not None else first
    last = min(now - lease, start + 599)
    if last < start:
        return None
    buckets = [L.res(s) for s in range(start, last + 1)]
    names = []
    for b in buckets:
        h = r.ok("HGETALL", b)
        for v in h[1::2]:
            names.extend(n for n in entry_names(v) if n not in names)
    keys = [L.reap, *buckets, *names]
    return ("EVALSHA", SHA["reap"], len(keys), *keys, wm or "", start, len(buckets), lease)


def fields(r, key, drop=("up",)):
    h = r.ok("HGETALL", key)
    return {k: v for k, v in zip(h[0::2], h[1::2]) if k not in drop}


def decode_refusal(code):
    c = -code
    return c // 1000, (c % 1000) // 100, c % 100


RESULTS = []


def check(name, cond, detail=""):
    RESULTS.append(bool(cond))
    print(f"{'PASS' if cond else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""))


NONE = (-1, -1, -1, -1, -1, -1)  # no limits, no lines


def t_rpm_exact(r):
    L = Layout("c1")
    minute_room(r)
    now = redis_now(r)[0]
    scopes = [("a", 10, -1, -1, -1, -1, -1), ("b", 5, -1, -1, -1, -1, -1)]
    got = [admit(r, L, f"r{i}", now, 1, scopes) for i in range(6)]
    after = redis_now(r)[0]
    i, k, w = decode_refusal(got[5]) if isinstance(got[5], int) and got[5] < 0 else (0, 0, 0)
    check("rpm exact across 2 scopes: 5 admitted, the 6th refused by scope 2 on rpm",
          got[:5] == [0] * 5 and (i, k) == (2, 1) and 60 - after % 60 <= w <= 60 - now % 60,
          f"replies {got}, retry in {w} s")
    a, b = fields(r, L.scope("a")), fields(r, L.scope("b"))
    check("rpm refusal charged nothing: both scopes count 5 requests",
          a.get("rq") == "5" and b.get("rq") == "5" and r.ok("HLEN", L.res(now)) == 5,
          f"a.rq={a.get('rq')} b.rq={b.get('rq')}")
    got = admit(r, L, "r9", now, 1, [("a", 5, -1, -1, -1, -1, -1), ("b", 50, -1, -1, -1, -1, -1)])
    check("rpm: the first scope refuses when it is the one full", decode_refusal(got)[:2] == (1, 1),
          f"reply {got}")
    back = settle(r, L, [{"rid": "r0", "sec": now, "scopes": ["a", "b"], "flag": "r",
                          "refund": 1, "delta": -1}])
    got = [admit(r, L, "r10", now, 1, scopes), admit(r, L, "r11", now, 1, scopes)]
    check("a refund in the same minute gives the place back: one more admitted, then refused",
          back == [0] and got[0] == 0 and decode_refusal(got[1])[:2] == (2, 1)
          and fields(r, L.scope("b")).get("rq") == "5", f"settle {back}, admits {got}")


def t_tpm(r):
    L = Layout("c2")
    minute_room(r)
    now = redis_now(r)[0]
    scopes = [("k", -1, 1000, -1, -1, -1, -1)]
    got = [admit(r, L, f"r{i}", now, 300, scopes) for i in range(4)]
    check("tpm exact: 3 x 300 tokens admitted against tpm=1000, the 4th refused on tpm",
          got[:3] == [0] * 3 and decode_refusal(got[3])[:2] == (1, 2)
          and fields(r, L.scope("k")).get("tk") == "900", f"replies {got}")
    got = admit(r, L, "z", now, 0, [("z", -1, 0, -1, -1, -1, -1)])
    check("tpm=0 refuses always", decode_refusal(got)[:2] == (1, 2), f"reply {got}")


def t_budget_refusal(r):
    L = Layout("c3")
    minute_room(r)
    now = redis_now(r)[0]
    scopes = [("d", 100, 100000, 1000, -1, 600, -1)]
    got = [admit(r, L, "r1", now, 600, scopes), r.call(*admit_cmd(L, "r2", now, 600, scopes))]
    d = fields(r, L.scope("d"))
    check("token budget refusal (600 + 600 > 1000): code scope 1 / token budget, attempted 1200",
          got[0] == 0 and got[1] == [-1300, "1200"], f"replies {got}")
    check("token budget refusal charged no rpm, no tpm and reserved nothing",
          d.get("rq") == "1" and d.get("tk") == "600" and d.get("rt") == "600"
          and "ru" not in d and r.ok("HLEN", L.res(now)) == 1, f"scope {d}")
    scopes = [("d2", 100, -1, -1, -1, -1, -1), ("e", -1, -1, -1, 100, -1, 80)]
    got = [admit(r, L, "u1", now, 1, scopes), admit(r, L, "u2", now, 1, scopes)]
    check("uUSD budget refusal on scope 2: code -2400, scope 1 not charged",
          got == [0, -2400] and fields(r, L.scope("d2")).get("rq") == "1", f"replies {got}")


def t_period_window(r):
    """Budget periods (issue 25): near a boundary B both periods' ledgers are named; Redis TIME
    picks the one whose window holds it, the other is not touched at settlement either."""
    L = Layout("c14")
    now = redis_now(r)[0]
    b = now + 1000
    scopes = [("k", 100, -1, -1, -1, -1, -1), ("k@1-2", -1, -1, 1000, -1, 600, -1, -b, b + 86400),
              ("k@2-3", -1, -1, 1000, -1, 600, -1, b, b + 90000)]
    got = r.call(*admit_cmd(L, "w1", now, 600, scopes))
    before, after = fields(r, L.scope("k@1-2")), fields(r, L.scope("k@2-3"))
    ttl = r.call("TTL", L.scope("k@1-2"))
    check("window: the period whose window holds TIME is reserved, the other skipped ({0, 3})",
          got == [0, 3] and before.get("rt") == "600" and after == {}, f"reply {got} {before}")
    check("window: the period's ledger made by the call expires at the given second",
          b + 86400 - now - 2 <= ttl <= b + 86400 - now, f"ttl {ttl}")
    # a token correction (delta != 0) reads and writes the rate scope, never the skipped one
    out = settle(r, L, [{"rid": "w1", "sec": now, "flag": "c", "tokens": 500, "delta": -100,
                         "scopes": ["k", "k@1-2", "k@2-3"]}])
    before, after = fields(r, L.scope("k@1-2")), fields(r, L.scope("k@2-3"))
    check("window: settled in the admitted period only; the skipped ledger still does not exist"
          " (a rate correction included)",
          out == [0] and before.get("st") == "500" and before.get("rt") == "0" and after == {}
          and r.call("EXISTS", L.scope("k@2-3")) == 0, f"settle {out} {before} {after}")
    got = r.call(*admit_cmd(L, "w2", now, 1, [("k@9-10", -1, -1, 5, -1, 1, -1, now - 1, 0)]))
    check("window: from a second already passed counts (reply 0)", got == 0, f"reply {got}")


def t_spend(r):
    """Spend buckets (issue 25): counted with the settlement that writes the request's audit
    record, once; a retried settlement or record counts nothing more."""
    L = Layout("c15")
    now = redis_now(r)[0]
    hour = now // 3600
    a = admit(r, L, "s1", now, 100, [("k", 100, -1, 1000, -1, 100, -1)])
    sp = {"hour": hour, "dims": "k|m|t||", "amounts": "12 9 3 7"}
    first = settle(r, L, [{"rid": "s1", "sec": now, "flag": "c", "scopes": ["k"], "spend": sp}])
    again = settle(r, L, [{"rid": "s1", "sec": now, "flag": "c", "scopes": ["k"], "spend": sp}])
    h = fields(r, L.spend("h", hour))
    d = fields(r, L.spend("d", hour // 24))
    check("spend: a settled request counts once in its hour and day; its retry counts nothing",
          a == 0 and first == [0] and again == [2] and h == {"k|m|t||": "1 12 9 3 7"}
          and d == h, f"settle {first} {again} hour {h} day {d}")
    rec = {"flag": "a", "once": "rec1", "kind": "proxy", "spend": sp}
    out = [settle(r, L, [rec]), settle(r, L, [rec]),
           settle(r, L, [{"flag": "a", "once": "rec2", "kind": "", "spend": sp}])]
    h = fields(r, L.spend("h", hour))
    check("spend: with an audit-only record (and a spend-only one) once each, not again",
          out == [[3], [4], [3]] and h == {"k|m|t||": "3 36 27 9 21"}, f"{out} {h}")
    ttl = r.call("TTL", L.spend("h", hour))
    check("spend: a bucket expires spend retention + a day after its last write",
          SPEND_RETENTION_S + 86400 - 2 <= ttl <= SPEND_RETENTION_S + 86400, f"ttl {ttl}")


def t_settle_twice(r):
    L = Layout("c4")
    now = redis_now(r)[0]
    scopes = [("f", -1, -1, 10**6, 10**6, 600, 30)]
    a = admit(r, L, "r1", now, 600, scopes)
    item = {"rid": "r1", "sec": now, "scopes": ["f"], "flag": "c", "tokens": 500, "usd": -1}
    got = [settle(r, L, [item]), settle(r, L, [item])]
    f = fields(r, L.scope("f"))
    check("settle of the same rid twice counts once (live, then absent)",
          a == 0 and got == [[0], [2]] and f.get("st") == "500" and f.get("rt") == "0"
          and f.get("su") == "30" and f.get("ru") == "0" and r.ok("XLEN", L.audit) == 1,
          f"replies {got}, scope {f}, audit records {r.ok('XLEN', L.audit)}")


def t_settle_before_admit(r):
    L = Layout("c5")
    now = redis_now(r)[0]
    scopes = [("g", 100, 1000, 10**6, -1, 600, -1)]
    got = settle(r, L, [{"rid": "x", "sec": now, "scopes": ["g"], "flag": "r"}])
    marker = r.ok("HGET", L.res(now), "x")
    late = admit(r, L, "x", now, 600, scopes)
    check("settlement before the admit: absent, marker 'x' left in the bucket, no audit record",
          got == [2] and marker == "x" and r.ok("XLEN", L.audit) == 0,
          f"reply {got}, marker {marker!r}")
    check("the late admit is a no-op (reply 2): nothing charged, nothing reserved",
          late == 2 and r.ok("EXISTS", L.scope("g")) == 0
          and r.ok("HGETALL", L.res(now)) == ["x", "x"], f"reply {late}")
    again = settle(r, L, [{"rid": "x", "sec": now, "scopes": ["g"], "flag": "r"}])
    check("the settlement retried: still absent, nothing written", again == [2]
          and r.ok("XLEN", L.audit) == 0, f"reply {again}")


def reap(r, L, lease, first=None):
    cmd = reap_cmd(r, L, lease, first)
    return r.call(*cmd)


def t_reap_then_settle(r):
    L = Layout("c6")
    now = redis_now(r)[0]
    r.ok("SET", L.reap, now - 305)
    sec = now - 299
    scopes = [("h", -1, -1, 10**6, 10**6, 700, 30)]
    a = admit(r, L, "old", sec, 700, scopes)
    wait_until(r, sec + 301)
    got = reap(r, L, 301)
    h = fields(r, L.scope("h"))
    check("reap releases a reservation older than the lease and deletes its bucket",
          a == 0 and got[:5] == [1, 1, 1, "700", "30"] and int(got[5]) > sec
          and h.get("rt") == "0" and h.get("ru") == "0" and r.ok("EXISTS", L.res(sec)) == 0,
          f"reply {got}, scope {h}")
    s = settle(r, L, [{"rid": "old", "sec": sec, "scopes": ["h"], "flag": "c", "tokens": 650}])
    h = fields(r, L.scope("h"))
    check("reap then settle: reply 1 (reaped), one audit record, nothing spent",
          s == [1] and r.ok("XLEN", L.audit) == 1 and h.get("st", "0") == "0"
          and h.get("su", "0") == "0" and h.get("rt") == "0", f"reply {s}, scope {h}")

    # A lease under 301 s (an admin reap of age 0): the second may still receive admissions,
    # so its entries are released and tombstoned, the watermark stays.
    L = Layout("c6b")
    now = redis_now(r)[0]
    r.ok("SET", L.reap, now - 2)
    a = admit(r, L, "new", now, 500, [("h", -1, -1, 10**6, -1, 500, -1)])
    got = reap(r, L, 0)
    check("reap with lease 0: released, tombstoned, the watermark not moved past TIME - 301",
          a == 0 and got[:5] == [1, 0, 1, "500", "0"] and got[5] == str(now - 2)
          and r.ok("HGET", L.res(now), "new") == "r" and fields(r, L.scope("h"))["rt"] == "0",
          f"reply {got}")
    again = reap(r, L, 0)
    s = [settle(r, L, [{"rid": "new", "sec": now, "scopes": ["h"], "flag": "c"}])
         for _ in range(2)]
    h = fields(r, L.scope("h"))
    check("tombstone: a second reap releases nothing; settle audits once, spends nothing",
          again[:5] == [1, 0, 0, "0", "0"] and s == [[1], [2]] and r.ok("XLEN", L.audit) == 1
          and h.get("st", "0") == "0" and h["rt"] == "0"
          and r.ok("HGETALL", L.res(now)) == ["new", "x"],
          f"reap {again}, settles {s}, scope {h}")


def t_reap_undeclared(r):
    L = Layout("c8")
    now = redis_now(r)[0]
    r.ok("SET", L.reap, now - 305)
    sec = now - 299
    a = admit(r, L, "old", sec, 1, [("p", -1, -1, -1, -1, 10, -1), ("q", -1, -1, -1, -1, 20, -1)])
    wait_until(r, sec + 301)
    cmd = list(reap_cmd(r, L, 301))
    cmd.remove(L.scope("q"))
    cmd[2] -= 1
    before = dump(r, [L.reap, L.res(sec), L.scope("p"), L.scope("q")])
    got = r.call(*cmd)
    after = dump(r, [L.reap, L.res(sec), L.scope("p"), L.scope("q")])
    check("reap called without a scope key an entry names: -1, nothing changed",
          a == 0 and got[0] == -1 and before == after, f"reply {got}")


def t_cache_hit(r):
    L = Layout("c12")
    minute_room(r)
    now = redis_now(r)[0]
    full = [("hit", 100, 10**6, 1000, 1000, 1000, 1000)]
    a = admit(r, L, "paid", now, 1000, full)
    s1 = settle(r, L, [{"rid": "paid", "sec": now, "scopes": ["hit"], "flag": "c"}])
    over = admit(r, L, "more", now, 1, full)
    hit = [("hit", 100, 10**6, 1000, 1000, -1, -1)]
    h = admit(r, L, "hit", now, 1, hit)
    entry = r.ok("HGET", L.res(now), "hit")
    s2 = settle(r, L, [{"rid": "hit", "sec": now, "scopes": ["hit"], "flag": "c", "tokens": 0,
                        "usd": 0, "delta": -1}])
    f = fields(r, L.scope("hit"))
    check("cache hit (every amount -1): admitted on rate limits with the budget spent, reserves"
          " and spends nothing, counted in rpm, settled once with its audit record",
          (a, s1, over, h, s2) == (0, [0], -1300, 0, [0]) and entry.split()[1:3] == ["-", "-"]
          and f["st"] == "1000" and f["su"] == "1000" and f["rt"] == "0" and f["rq"] == "2"
          and f["tk"] == "1000" and r.ok("XLEN", L.audit) == 2, f"entry {entry!r}, scope {f}")


def t_reap_race(r):
    L = Layout("c7")
    now = redis_now(r)[0]
    r.ok("SET", L.reap, now - 305)
    sec = now - 299
    a = [admit(r, L, "old", sec, 100, [("j", -1, -1, 10**6, -1, 100, -1)]),
         admit(r, L, "live", now, 40, [("j", -1, -1, 10**6, -1, 40, -1)])]
    wait_until(r, sec + 301)
    one, two = reap_cmd(r, L, 301), reap_cmd(r, L, 301)  # both read the same watermark
    got = [r.call(*one), r.call(*two)]
    j = fields(r, L.scope("j"))
    check("two reapers with the same expected watermark: the second does nothing",
          a == [0, 0] and got[0][:3] == [1, 1, 1] and got[1][:3] == [0, 0, 0]
          and j["rt"] == "40", f"replies {got}, reserved left {j['rt']} (the live 40)")


def t_group_commit(r):
    minute_room(r, 10)
    now = redis_now(r)[0]
    both = [("k", 1000, 10**6, 10**6, 10**6), ("u", 1000, 10**6, 10**5, -1)]
    plan = []  # (rid, scopes, charge, reserve t, reserve u)
    for i in range(8):
        plan.append((f"r{i}", both if i % 2 == 0 else both[:1], 100 + i, 100 + i, 10 + i))
    items = []
    for i, (rid, sc, charge, rt, ru) in enumerate(plan):
        it = {"rid": rid, "sec": now if i < 6 else now - 1, "scopes": [s[0] for s in sc],
              "flag": "r" if i in (3, 6) else "c", "tokens": -1 if i == 2 else 90 + i,
              "usd": -1 if i in (2, 5) else 7 + i, "refund": 1 if i in (3, 6) else 0,
              "delta": -(100 + i) if i in (3, 6) else -10, "payload": json.dumps({"i": i})}
        items.append(it)
    items.append({"flag": "a", "once": "h1", "kind": "proxy.blocked", "payload": "{\"b\":1}"})
    items.append({"rid": "never", "sec": now, "scopes": ["k"], "flag": "c"})
    states, replies = [], []
    for mode in ("single", "group"):
        L = Layout(f"g-{mode}")
        for i, (rid, sc, charge, rt, ru) in enumerate(plan):
            scopes = [(s[0], s[1], s[2], s[3], s[4], rt, ru if s[4] >= 0 else -1) for s in sc]
            res = admit(r, L, rid, items[i]["sec"], charge, scopes)
            if res != 0:
                replies.append(f"admit {rid}: {res}")
        if mode == "single":
            replies.append([x for it in items for x in settle(r, L, [it])])
        else:
            replies.append(settle(r, L, items))
        st = {s: fields(r, L.scope(s)) for s in ("k", "u")}
        st["buckets"] = [r.ok("EXISTS", L.res(now)), r.ok("EXISTS", L.res(now - 1))]
        st["marks"] = [r.ok("HGET", L.res(now), "never"), r.ok("EXISTS", L.once("h1"))]
        st["audit"] = [e[1] for e in r.ok("XRANGE", L.audit, "-", "+")]
        states.append(st)
    check("group commit: 10 settlements (2 scope sets, 2 seconds, commit, rollback, audit-only,"
          " absent) in one call give the same ledgers, counters and audit as 10 calls",
          states[0] == states[1] and replies[0] == replies[1]
          and replies[0] == [0, 0, 0, 0, 0, 0, 0, 0, 3, 2],
          f"replies {replies}; k={states[0]['k']}")


def dump(r, keys):
    return {k: r.ok("DUMP", k) for k in keys}


def t_oom(r):
    L = Layout("c9")
    now = redis_now(r)[0]
    scopes = [("o", 100, 10**6, 10**6, 10**6, 100, 10)]
    a = admit(r, L, "live", now, 100, scopes)
    keys = [L.scope("o"), L.res(now), L.once("h"), L.audit, L.reap]
    before = dump(r, keys)
    size = r.ok("DBSIZE")
    used = int(re.search(r"used_memory:(\d+)", r.ok("INFO", "memory")).group(1))
    r.ok("CONFIG", "SET", "maxmemory-policy", "noeviction")
    r.ok("CONFIG", "SET", "maxmemory", used - 200000)
    try:
        got_a = admit(r, L, "new", now, 100, scopes)
        got_s = settle(r, L, [{"rid": "live", "sec": now, "scopes": ["o"], "flag": "c"},
                              {"flag": "a", "once": "h", "kind": "proxy.blocked",
                               "payload": "{}"}])
        after = dump(r, keys)
        size_after = r.ok("DBSIZE")
    finally:
        r.ok("CONFIG", "SET", "maxmemory", 0)
    oom = [isinstance(x, RedisError) and str(x).startswith("OOM") for x in (got_a, got_s)]
    check("full Redis (maxmemory below used, noeviction): admit and settle refused with OOM,"
          " nothing changed (DUMP of the touched keys, DBSIZE)",
          a == 0 and all(oom) and before == after and size == size_after,
          f"admit {got_a!s:.40}, settle {got_s!s:.40}")
    got = [admit(r, L, "new", now, 100, scopes),
           settle(r, L, [{"rid": "live", "sec": now, "scopes": ["o"], "flag": "c"}])]
    check("after maxmemory is lifted both succeed", got == [0, [0]], f"replies {got}")


def t_skew(r):
    L = Layout("c10")
    now = redis_now(r)[0]
    scopes = [("s", 100, -1, -1, -1, -1, -1)]
    got = [admit(r, L, "a", now - 302, 1, scopes), admit(r, L, "b", now + 302, 1, scopes)]
    refused = all(isinstance(x, RedisError) and str(x).startswith("SKEW") for x in got)
    nothing = r.ok("EXISTS", L.scope("s"), L.res(now - 302), L.res(now + 302)) == 0
    ok = admit(r, L, "c", now - 298, 1, scopes)
    check("sec more than 300 s off Redis TIME is refused (SKEW), nothing written; 298 s is fine",
          refused and nothing and ok == 0, f"{got[0]!s:.60}")


def t_big_integers(r):
    L = Layout("c11")
    now = redis_now(r)[0]
    B = 10**16

    def sc(t, u):
        return [("big", -1, -1, B, B, t, u)]
    got = [admit(r, L, "a", now, 1, sc(4000000000000001, 1234567890123457)),
           admit(r, L, "b", now, 1, sc(5000000000000003, 3))]
    f1 = fields(r, L.scope("big"))
    s = settle(r, L, [{"rid": "a", "sec": now, "scopes": ["big"], "flag": "c",
                       "tokens": 3999999999999999, "usd": -1}])
    f2 = fields(r, L.scope("big"))
    # spent + reserved = 9000000000000002: 10^15 more is over 10^16, 999999999999998 is exact
    over = admit(r, L, "c", now, 1, sc(10**15, -1))
    fit = admit(r, L, "d", now, 1, sc(999999999999998, -1))
    f3 = fields(r, L.scope("big"))
    check("integers above 1e15 stored exactly (budgets of 10^16)",
          got == [0, 0] and f1["rt"] == "9000000000000004" and f1["ru"] == "1234567890123460"
          and s == [0] and f2["st"] == "3999999999999999" and f2["rt"] == "5000000000000003"
          and f2["su"] == "1234567890123457" and f2["ru"] == "3",
          f"after admits {f1}, after settle {f2}")
    check("budget boundary at exactly 10^16 (over by 2 refused, exactly at the limit admitted)",
          over == -1300 and fit == 0 and f3["rt"] == "6000000000000001",
          f"replies {over}, {fit}; rt {f3.get('rt')}")


# ---------------------------------------------------------------- measurement

PAYLOAD = json.dumps({
    "request_id": "req-0123456789abcdef", "virtual_key_id": "governed", "tenant_id": "acme",
    "project_id": "search", "user_id": "u-42", "method": "POST",
    "path": "/v1/chat/completions", "model": "gpt-4o-mini", "upstream_model": "gpt-4o-mini",
    "backend": "up", "route": "default", "status": 200, "stream": False, "cache": "miss",
    "prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21, "cached_tokens": 0,
    "cost_usd_micros": 9, "duration_ms": 1, "upstream_ms": 1, "ttfb_ms": 1,
    "client_ip": "10.0.0.17", "user_agent": "openai-python/1.55.3",
    "ts": "2026-12-06T12:00:00.000Z", "retry": 0, "error": None})
GOVERNED = [("governed", 4000000000, 4000000000, 10**15, 10**15, 100, 50)]
# Issue 25's controls: the key's rate limits with its day budget in the period's ledger (far
# from a boundary: one ledger, with an expiry), and a model_limits entry with rpm, tpm and a
# budget of its own.
CONTROLS = [("governed", 4000000000, 4000000000, -1, -1, -1, -1),
            ("governed@1893456000-1893542400", -1, -1, 10**15, 10**15, 100, 50, 0, 1901232000),
            ("governed#model:gpt-4o*", 4000000000, 4000000000, 10**15, 10**15, 100, 50)]
PERIOD = CONTROLS[:2]


def stats(r):
    out = {}
    for m in re.finditer(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", r.ok("INFO", "commandstats")):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


OUTSIDE = {"evalsha", "info"}  # the only commands run() sends besides the scripts


def inner_calls(s):
    return sum(c for name, (c, _) in s.items() if name not in OUTSIDE)


class Mode:
    """One way to drive the governed request, 64 requests per round: the admissions in one
    pipelined write, then the settlements in another. Per round it keeps the evalsha usec of
    each write per request, and counts the commands the scripts ran."""

    def __init__(self, name, admit_round, settle_round):
        self.name, self.admit_round, self.settle_round = name, admit_round, settle_round
        self.admit, self.settle, self.requests, self.evalsha, self.inner = [], [], 0, 0, 0

    def round(self, r, start, count):
        rids = [f"{self.name}-{i:08d}" for i in range(start, start + count)]
        sec = int(time.time())
        s0 = stats(r)
        send(r, self.admit_round(rids, sec), lambda x: x == 0 or isinstance(x, list))
        s1 = stats(r)
        send(r, self.settle_round(rids, sec), ok_settle)
        s2 = stats(r)
        self.admit.append((s1["evalsha"][1] - s0.get("evalsha", (0, 0))[1]) / count)
        self.settle.append((s2["evalsha"][1] - s1["evalsha"][1]) / count)
        self.requests += count
        self.evalsha += s2["evalsha"][0] - s0.get("evalsha", (0, 0))[0]
        self.inner += inner_calls(s2) - inner_calls(s0)

    def summary(self):
        tot = sorted(a + s for a, s in zip(self.admit, self.settle))
        med = statistics.median
        return {"admit": med(self.admit), "settle": med(self.settle), "total": med(tot),
                "p10": tot[len(tot) // 10], "evalsha": self.evalsha / self.requests,
                "inner": self.inner / self.requests}


def ok_settle(x):
    return isinstance(x, int) or (isinstance(x, list) and all(v in (0, 1) for v in x))


def send(r, cmds, good):
    """cmds: encoded commands, sent in one write; every reply must be good."""
    r.s.sendall(b"".join(cmds))
    for _ in cmds:
        x = r.read()
        if not good(x):
            raise RuntimeError(f"unexpected reply {x}")


def v2_mode(name, k, scopes=GOVERNED, spend=False):
    L = Layout(name)

    def admits(rids, sec):
        return [enc(*admit_cmd(L, rid, sec, 100, scopes)) for rid in rids]

    def settles(rids, sec):
        sp = {"hour": sec // 3600, "dims": "governed|gpt-4o-2024-08-06|acme|search|",
              "amounts": "12 9 3 9"} if spend else None
        items = [{"rid": rid, "sec": sec, "scopes": [s[0] for s in scopes], "flag": "c",
                  "tokens": 21, "usd": 9, "delta": -79, "payload": PAYLOAD, "spend": sp}
                 for rid in rids]
        return [enc(*settle_cmd(L, items[j:j + k])) for j in range(0, len(items), k)]
    return Mode(name, admits, settles)


def v1_mode(r):
    """The five v1 calls of bench/redis_scripts.py, as src/store/redis/scripts.cpp holds them,
    with the same audit record as v2."""
    v1.PAYLOAD = PAYLOAD
    sha = {k: r.ok("SCRIPT", "LOAD", v) for k, v in v1.scripts().items()}

    def cmds(ops):
        def build(rids, sec):
            return [v1.command(op, sha[op], int(rid.rsplit("-", 1)[1]))
                    for rid in rids for op in ops]
        return build
    return Mode("v1", cmds(["rate_admit", "budget_reserve"]),
                cmds(["rate_adjust", "budget_settle", "audit_append"]))


def measure(r, n, per_mode):
    # DBSIZE over n governed requests, one settlement per call.
    r.ok("FLUSHALL")
    flat = v2_mode("flat", 1)
    flat.round(r, 0, 640)
    size_before = r.ok("DBSIZE")
    for start in range(640, 640 + n, 64):
        flat.round(r, start, min(64, 640 + n - start))
    size_after = r.ok("DBSIZE")
    keys = r.ok("KEYS", "*")
    # CPU: the modes take turns, one round each, so a busy machine weighs on them alike.
    r.ok("FLUSHALL")
    modes = [v2_mode("single", 1), v2_mode("by8", 8), v2_mode("by32", 32),
             v2_mode("period", 32, PERIOD), v2_mode("controls", 32, CONTROLS),
             v2_mode("spend", 32, GOVERNED, True), v2_mode("all", 32, CONTROLS, True)]
    try:
        modes.append(v1_mode(r))
    except Exception as e:  # v1 gone from scripts.cpp: measure v2 alone
        print(f"v1 not measured: {type(e).__name__}: {e}")
    for m in modes:
        m.round(r, 0, 64)
        m.admit, m.settle, m.requests, m.evalsha, m.inner = [], [], 0, 0, 0
    for start in range(64, 64 + per_mode, 64):
        for m in modes:
            m.round(r, start, 64)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print()
    print(f"governed request: 1 scope (rpm, tpm, a token and a USD line), a {len(PAYLOAD)}-byte"
          f" audit record; Redis CPU inside the scripts (INFO commandstats, evalsha usec) per"
          f" request, over {per_mode} requests per row taken in turns; median (p10) of the"
          f" 64-request rounds; load average {load}")
    print(f"{'':24s} {'evalsha/req':>11s} {'admit':>6s} {'settle':>7s} {'us/request':>16s}"
          f" {'commands/req':>13s}")
    label = {"single": "v2, settle one per call", "by8": "v2, settle grouped by 8",
             "by32": "v2, settle grouped by 32", "period": "+ a day budget (by 32)",
             "controls": "+ and a model entry", "spend": "+ spend buckets (by 32)",
             "all": "period, model, buckets", "v1": "v1 (5 calls)"}
    for m in modes:
        x = m.summary()
        us = f"{x['total']:.1f} ({x['p10']:.1f})"
        print(f"{label[m.name]:24s} {x['evalsha']:11.3f} {x['admit']:6.1f} {x['settle']:7.1f}"
              f" {us:>16s} {x['inner']:13.2f}")
    # Issue 22's targets. The CPU one on the p10 of the rounds: Redis's own time in the scripts
    # without the rounds a busy machine preempted it in (the prototype took the minimum
    # of 5 runs), with settlements grouped by 32 as a loaded gateway groups them.
    by_name = {m.name: m.summary() for m in modes}
    check("at most 2 evalsha per governed request (settlements one per call)",
          by_name["single"]["evalsha"] <= 2.0, f"{by_name['single']['evalsha']:.3f}")
    check("at most 20 us of Redis CPU per governed request (grouped by 32, p10 of the rounds)",
          by_name["by32"]["p10"] <= 20.0,
          f"{by_name['by32']['p10']:.1f} us, median {by_name['by32']['total']:.1f} us")
    # Issue 25's target is not met with a model entry (docs/redis.md, "Layout v2"): reported.
    for name in ("period", "controls", "spend", "all"):
        extra = by_name[name]["p10"] - by_name["by32"]["p10"]
        print(f"issue 25, {label[name]}: {extra:+.1f} us of Redis CPU per governed request"
              f" against one scope (p10 of the rounds; target +3.0 with every control on)")
    x = flat.summary()
    print(f"DBSIZE before {size_before}, after {n} more admit+settle pairs {size_after}"
          f" ({', '.join(sorted(keys))}); that run: {x['total']:.1f} ({x['p10']:.1f}) us/request,"
          f" {x['inner']:.2f} commands/request")
    check(f"DBSIZE flat within 1% over {n} admit+settle pairs",
          abs(size_after - size_before) <= 0.01 * max(size_before, 1),
          f"{size_before} -> {size_after}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    per_mode = int(sys.argv[2]) if len(sys.argv) > 2 else 16000

    def too_long(*_):
        raise TimeoutError("bench/redis_v2.py: over 115 s, stopping")
    signal.signal(signal.SIGALRM, too_long)
    signal.alarm(115)
    redis, port = v1.start_redis()
    try:
        r = None
        for _ in range(100):
            try:
                r = Conn(port)
                r.ok("PING")
                break
            except (OSError, RedisError):
                time.sleep(0.05)
        version = re.search(r"redis_version:(\S+)", r.ok("INFO", "server")).group(1)
        print(f"redis-server {version} on 127.0.0.1:{port}")
        for name in ("admit", "settle", "reap"):
            with open(os.path.join(LUA, name + ".lua")) as f:
                SHA[name] = r.ok("SCRIPT", "LOAD", f.read())
        for test in (t_rpm_exact, t_tpm, t_budget_refusal, t_settle_twice, t_settle_before_admit,
                     t_reap_then_settle, t_reap_race, t_reap_undeclared, t_group_commit,
                     t_oom, t_skew, t_big_integers, t_cache_hit, t_period_window, t_spend):
            try:
                test(r)
            except Exception as e:  # a check that crashed is a FAIL, the rest still run
                check(test.__name__, False, f"{type(e).__name__}: {e}")
                if isinstance(e, TimeoutError):
                    raise
        measure(r, n, per_mode)
    finally:
        signal.alarm(0)
        redis.kill()
        redis.wait(timeout=10)
    failed = RESULTS.count(False)
    print(f"\n{len(RESULTS) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
