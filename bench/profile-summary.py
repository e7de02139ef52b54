#!/usr/bin/env python3
"""Sums a libtorch profiler trace (rag bench train --profile FILE) per operator: self and total seconds per step.

usage: bench/profile-summary.py TRACE.json STEPS [TOP]"""
import collections, json, sys

trace = json.load(open(sys.argv[1]))
steps = int(sys.argv[2])
top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
events = [e for e in (trace["traceEvents"] if isinstance(trace, dict) else trace) if e.get("ph") == "X"]
per_thread = collections.defaultdict(list)
for e in events:
    per_thread[e.get("tid")].append(e)
self_us, total_us, calls = collections.Counter(), collections.Counter(), collections.Counter()
for es in per_thread.values():
    es.sort(key=lambda e: (e["ts"], -e["dur"]))
    stack = []  # enclosing events: a child's time is not its parent's self time
    for e in es:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            self_us[stack[-1]["name"]] -= e["dur"]
        self_us[e["name"]] += e["dur"]
        total_us[e["name"]] += e["dur"]
        calls[e["name"]] += 1
        stack.append(e)
print(f"{'self s/step':>11} {'total s/step':>12} {'calls/step':>10}  operator")
for name, us in self_us.most_common(top):
    print(f"{us / 1e6 / steps:11.3f} {total_us[name] / 1e6 / steps:12.3f} {calls[name] / steps:10.0f}  {name}")
print(f"{sum(self_us.values()) / 1e6 / steps:11.3f} {'':12} {'':10}  all operators")
