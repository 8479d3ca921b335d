#!/usr/bin/env python3
"""Explain latency: N sequential GET /api/v1/explain requests over one keep-alive connection
to a running server (default 127.0.0.1:8053), random KR/JP/US/IPv6 ECS subnets; prints the
median, p99 and max in milliseconds. A figure for notes and the README, not a test.

    python3 bench/explain_latency.py [--admin 127.0.0.1:8053] [-n 2000]
"""
import argparse
import http.client
import random
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--admin", default="127.0.0.1:8053")
ap.add_argument("-n", type=int, default=2000)
args = ap.parse_args()
host, port = args.admin.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=5)
rng = random.Random(7)
subnets = lambda: rng.choice([
    f"211.234.{rng.randrange(256)}.0/24",
    f"133.242.{rng.randrange(256)}.0/24",
    f"8.8.{rng.randrange(256)}.0/24",
    f"2001:2d8:{rng.randrange(65536):x}::/56",
])
times = []
for _ in range(args.n):
    path = f"/api/v1/explain?name=live.example.com&ecs={subnets()}"
    t0 = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    times.append((time.perf_counter() - t0) * 1000)
    assert r.status == 200, r.status
times.sort()
print(f"explain: {args.n} requests, median {statistics.median(times):.3f} ms, "
      f"p99 {times[int(len(times) * 0.99) - 1]:.3f} ms, max {times[-1]:.3f} ms")
