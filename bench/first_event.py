#!/usr/bin/env python3
"""Issue 20 target: a translated stream is relayed event by event, so the client's first
content event arrives within 1 ms of the upstream's. Times the first content event of a
streamed answer straight from the mock and through the gateway in each dialect, the mock
pacing its events 50 ms apart (so a gateway that waited for a second event would show +50
ms). Usage: bench/first_event.py GATEWAY_PORT MOCK_PORT KEY [RUNS]"""
import socket
import statistics
import sys
import time


def first_content(port, path, body, headers, marker):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nx-mock-chunk-delay-ms: 50\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
    t0 = time.perf_counter()
    s.sendall(head.encode() + body.encode())
    buf = b""
    while marker not in buf:
        piece = s.recv(65536)
        if not piece:
            raise RuntimeError(f"{path}: stream ended before {marker!r}: {buf[-300:]!r}")
        buf += piece
    t = time.perf_counter() - t0
    s.close()
    return t


def main():
    gw, mock, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    direct = ("/v1/chat/completions", '{"model":"m","stream":true,"messages":[]}', {},
              b'"content":"Hello"')
    cases = {
        "anthropic": ("/v1/messages",
                      '{"model":"m","max_tokens":9,"stream":true,'
                      '"messages":[{"role":"user","content":"x"}]}',
                      {"x-api-key": key}, b"text_delta"),
        "responses": ("/v1/responses", '{"model":"m","stream":true,"input":"x"}',
                      {"Authorization": f"Bearer {key}"}, b"output_text.delta"),
        "gemini": ("/v1beta/models/m:streamGenerateContent?alt=sse",
                   '{"contents":[{"parts":[{"text":"x"}]}]}', {"x-goog-api-key": key},
                   b'"text":"Hello"'),
    }
    base = statistics.median(first_content(mock, *direct) for _ in range(runs))
    print(f"mock direct, first content event: {base * 1e3:.2f} ms (median of {runs})")
    for name, case in cases.items():
        t = statistics.median(first_content(gw, *case) for _ in range(runs))
        print(f"{name:9s} through the gateway: {t * 1e3:.2f} ms, added {(t - base) * 1e3:.2f} ms "
              "(target ≤ 1 ms)")


main()
