#!/usr/bin/env python3
"""Turns target/bench/engine.tsv (cargo bench --features sim --bench engine) into an SVG:
APDUs per operation and the latency model's card time per operation, CPS3 vs CPS4, as two
horizontal bar charts. Standard library only (no matplotlib): the SVG is written by hand.

    scripts/bench-plot.py [ENGINE_TSV [OUT_SVG]]

Defaults: target/bench/engine.tsv and docs/performance.svg (relative to the repository).
"""

import csv
import html
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARDS = [("cps3-doctor", "CPS3 (cps3-doctor, T=0, 9600 bit/s)", "#1f6fb4"),
         ("cps4-nurse", "CPS4 (cps4-nurse, T=1, 115200 bit/s)", "#e07b1a")]

# Operations in display order; each card's own signature rows are kept as they are.
LABEL_W = 370      # left column for operation names
BAR_W = 330        # longest bar
ROW_H = 15         # one bar
GAP = 7            # between operations
PANEL_GAP = 50
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def operations(rows):
    """Operation names in first-seen order, with the rows of each card."""
    ops = []
    for r in rows:
        if r["operation"] not in ops:
            ops.append(r["operation"])
    by = {(r["card"], r["operation"]): r for r in rows}
    return ops, by


def panel(out, y, title, ops, by, value, fmt, x0):
    """One horizontal bar chart; returns the y below it."""
    vmax = max([value(r) for r in by.values()] + [1e-9])
    out.append(f"<text x='{x0}' y='{y}' font-size='14' font-weight='bold' {FONT}>"
               f"{html.escape(title)}</text>")
    y += 12
    for op in ops:
        present = [(c, col) for c, _, col in CARDS if (c, op) in by]
        out.append(f"<text x='{x0 + LABEL_W - 8}' y='{y + ROW_H * len(present) / 2 + 4:.1f}' "
                   f"font-size='11' text-anchor='end' {FONT}>{html.escape(op)}</text>")
        for card, colour in present:
            v = value(by[(card, op)])
            w = BAR_W * v / vmax
            out.append(f"<rect x='{x0 + LABEL_W}' y='{y}' width='{max(w, 0.5):.1f}' "
                       f"height='{ROW_H - 2}' fill='{colour}'/>")
            out.append(f"<text x='{x0 + LABEL_W + w + 4:.1f}' y='{y + ROW_H - 4}' "
                       f"font-size='10' {FONT}>{html.escape(fmt(v))}</text>")
            y += ROW_H
        y += GAP
    return y


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/bench/engine.tsv")
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs/performance.svg")
    rows = load(src)
    ops, by = operations(rows)
    width = LABEL_W + BAR_W + 90
    body = []
    y = 24
    # Legend.
    x = 10
    for _, name, colour in CARDS:
        body.append(f"<rect x='{x}' y='{y - 10}' width='12' height='12' fill='{colour}'/>")
        body.append(f"<text x='{x + 17}' y='{y}' font-size='12' {FONT}>{html.escape(name)}</text>")
        x += 300
    y += 30
    y = panel(body, y, "APDUs per operation (exact, simulator trace; later calls)", ops, by,
              lambda r: float(r["apdus"]), lambda v: f"{v:.0f}", 10)
    y += PANEL_GAP - 20
    y = panel(body, y, "Modelled card time per operation, ms (latency model, not a measurement)",
              ops, by, lambda r: float(r["modelled_us"]) / 1000.0,
              lambda v: f"{v:.1f}", 10)
    y += 8
    for note in ("Model: 2 ms per APDU + 10 bits per byte at the ATR's line rate + 250 ms per "
                 "on-card RSA operation.",
                 "Source: cargo bench --features sim --bench engine; scripts/bench-plot.py."):
        body.append(f"<text x='10' y='{y}' font-size='10' fill='#555' {FONT}>"
                    f"{html.escape(note)}</text>")
        y += 13
    height = y + 12
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}'>",
           f"<rect width='{width}' height='{height}' fill='white'/>"] + body + ["</svg>"]
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {dst} ({len(ops)} operations)")


if __name__ == "__main__":
    main()
