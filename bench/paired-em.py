#!/usr/bin/env python3
"""Paired EM comparison of two prediction files over the same questions (rag eval / rag train --eval-* writes them:
one JSON object per line with "id" and "em"). Prints both EMs, B - A in points with its paired standard error, and how
many questions only one of them answers. Paired, because two runs judged on the same questions share the questions'
difficulty: the error of their difference is much smaller than two independent samples' errors added.

    bench/paired-em.py A.jsonl B.jsonl
"""
import json
import math
import sys


def exact_matches(path):
    out = {}
    for line in open(path):
        o = json.loads(line)
        out[o["id"]] = float(o["em"])
    return out


a, b = exact_matches(sys.argv[1]), exact_matches(sys.argv[2])
ids = [i for i in a if i in b]
if len(ids) < 2:
    sys.exit(f"paired-em: {len(ids)} questions in common between {sys.argv[1]} and {sys.argv[2]}")
diff = [b[i] - a[i] for i in ids]
n = len(diff)
mean = sum(diff) / n
se = math.sqrt(sum((d - mean) ** 2 for d in diff) / (n - 1) / n)
print(f"questions {n}  A {100 * sum(a[i] for i in ids) / n:.1f}  B {100 * sum(b[i] for i in ids) / n:.1f}  "
      f"B-A {100 * mean:+.1f} +- {100 * se:.1f} (paired s.e.)  only B right {sum(d > 0 for d in diff)}, "
      f"only A right {sum(d < 0 for d in diff)}")
