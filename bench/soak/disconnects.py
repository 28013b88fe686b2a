#!/usr/bin/env python3
"""Soak: clients that go away at every stage of a request, until a deadline.

Usage: disconnects.py PORT SECONDS. Stages: mid-head, mid-body, right after the request,
and mid-stream (an SSE answer paced by the mock upstream). Prints how many of each it did.
"""
import random
import socket
import sys
import time

port, secs = int(sys.argv[1]), float(sys.argv[2])
body = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"bye"}]}'
head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer vk-gov\r\n"
        b"Content-Type: application/json\r\nx-mock-chunk-delay-ms: 20\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
counts = {"mid_head": 0, "mid_body": 0, "after_request": 0, "mid_stream": 0}
deadline = time.monotonic() + secs
while time.monotonic() < deadline:
    stage = random.choice(list(counts))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            if stage == "mid_head":
                s.sendall(head[: len(head) // 2])
            elif stage == "mid_body":
                s.sendall(head + body[: len(body) // 2])
            elif stage == "after_request":
                s.sendall(head + body)
            else:
                s.sendall(head + body)
                s.recv(4096)  # the head and a first chunk, then away
            # RST instead of FIN for half of them: both ways of leaving happen in practice.
            if random.random() < 0.5:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        counts[stage] += 1
    except OSError:
        pass
    time.sleep(0.01)
print(" ".join(f"{k}={v}" for k, v in counts.items()))
