#!/usr/bin/env python3
"""Sums `dsa bench`'s per-op kernel table (DSA_OP_INDEX=1 with dev/step-ab.patch applied) per variant.

Usage: step-ab.py <bench stderr> <batch> [ops]: the step's total for A (g_ab 0) and B (g_ab 1), then the kernels
summed by name, most time first, and with a third argument the 12 costliest ops of the step one by one.
"""
import collections
import re
import sys

text = open(sys.argv[1]).read()
batch = sys.argv[2]
section = text[text.index(f'batch {batch} ('):]
times = {'A': collections.defaultdict(float), 'B': collections.defaultdict(float)}
for line in section.split('\n')[1:]:
    m = re.match(r'\s+([\d.]+)\s+[\d.]+×\s+(\S+)#(\d+)#([AB])', line)
    if m:
        times[m.group(4)][(m.group(2), int(m.group(3)))] += float(m.group(1))
a, b = times['A'], times['B']
total_a, total_b = sum(a.values()), sum(b.values())
print(f'step A {total_a:.1f} B {total_b:.1f} ({100 * (total_b - total_a) / total_a:+.2f}%)')
by_name = collections.defaultdict(lambda: [0.0, 0.0])
for key, value in a.items():
    by_name[key[0]][0] += value
    by_name[key[0]][1] += b.get(key, 0.0)
for name, (ta, tb) in sorted(by_name.items(), key=lambda item: -item[1][0])[:8]:
    print(f'  {name:<14} A {ta:9.1f} B {tb:9.1f} {100 * (tb - ta) / ta:+.1f}%')
if len(sys.argv) > 3:
    for key in sorted(a, key=lambda k: -a[k])[:12]:
        print(f'  {key[0]}#{key[1]:<10} A {a[key]:9.1f} B {b.get(key, 0.0):9.1f} {100 * (b.get(key, 0.0) - a[key]) / a[key]:+.1f}%')
