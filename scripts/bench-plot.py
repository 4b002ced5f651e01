#!/usr/bin/env python3
"""Turns target/bench/engine.tsv (cargo bench --features sim --bench engine) into an SVG:
APDUs per operation and the latency model's card time per operation, CPS3 vs CPS4, as two
horizontal bar charts. Standard library only (no matplotlib): the SVG is written by hand.

    scripts/bench-plot.py [ENGINE_TSV [OUT_SVG]]
    scripts/bench-plot.py --e2e [E2E_TSV [OUT_SVG]]

Defaults: target/bench/engine.tsv and docs/performance.svg (relative to the repository);
with --e2e (scripts/bench-e2e.sh): target/bench/e2e.tsv and docs/performance-e2e.svg — wall time
and APDUs per scenario, our module against OpenSC 0.23 with its file cache off and on.
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


E2E_SERIES = [("cpx", "cold", "cpx-pkcs11, cold (no cache)", "#9ecae1"),
              ("cpx", "warm", "cpx-pkcs11, warm (cache)", "#1f6fb4"),
              ("opensc-off", "cold", "OpenSC 0.23, file cache off", "#fdae6b"),
              ("opensc-on", "cold", "OpenSC 0.23, file cache on, cold", "#f4a3a3"),
              ("opensc-on", "warm", "OpenSC 0.23, file cache on, warm", "#d62728")]
E2E_NAMES = {"L": "pkcs11-tool -L", "O": "pkcs11-tool -O", "LO": "pkcs11-tool -L -O",
             "sign": "start → first signature"}


def e2e_panel(out, y, title, rows, card, value, fmt):
    by = {(r["module"], r["cache"], r["scenario"]): r for r in rows if r["card"] == card}
    if not by:
        return y
    vmax = max([value(r) for r in by.values()] + [1e-9])
    out.append(f"<text x='10' y='{y}' font-size='14' font-weight='bold' {FONT}>"
               f"{html.escape(title)}</text>")
    y += 12
    for sc in [s for s in E2E_NAMES if any(k[2] == s for k in by)]:
        series = [(lab, col, by[(m, t, sc)]) for m, t, lab, col in E2E_SERIES if (m, t, sc) in by]
        out.append(f"<text x='{LABEL_W - 8}' y='{y + ROW_H * len(series) / 2 + 4:.1f}' "
                   f"font-size='11' text-anchor='end' {FONT}>{html.escape(E2E_NAMES[sc])}</text>")
        for _, colour, r in series:
            v = value(r)
            w = BAR_W * v / vmax
            out.append(f"<rect x='{LABEL_W}' y='{y}' width='{max(w, 0.5):.1f}' "
                       f"height='{ROW_H - 2}' fill='{colour}'/>")
            out.append(f"<text x='{LABEL_W + w + 4:.1f}' y='{y + ROW_H - 4}' "
                       f"font-size='10' {FONT}>{html.escape(fmt(v))}</text>")
            y += ROW_H
        y += GAP
    return y + 10


def e2e(argv):
    src = argv[0] if argv else os.path.join(ROOT, "target/bench/e2e.tsv")
    dst = argv[1] if len(argv) > 1 else os.path.join(ROOT, "docs/performance-e2e.svg")
    rows = load(src)
    width = LABEL_W + BAR_W + 90
    body = []
    y = 20
    for i, (_, _, name, colour) in enumerate(E2E_SERIES):
        body.append(f"<rect x='10' y='{y - 10}' width='12' height='12' fill='{colour}'/>")
        body.append(f"<text x='27' y='{y}' font-size='12' {FONT}>{html.escape(name)}</text>")
        y += 16
    y += 14
    for card, label in (("cps3-doctor", "CPS3 (9600 bit/s)"), ("cps4-nurse", "CPS4 (115200 bit/s)")):
        y = e2e_panel(body, y, f"{label}: wall time per process, median ms", rows, card,
                      lambda r: float(r["wall_median_ms"]), lambda v: f"{v:.0f} ms")
        y = e2e_panel(body, y, f"{label}: APDUs per process, median", rows, card,
                      lambda r: float(r["apdus"]), lambda v: f"{v:.0f}")
    for note in ("Same pcscd, vpcd and simulated card; cpx-vcard --latency (ATR line rate, "
                 "2 ms per APDU, 250 ms per on-card RSA).",
                 "OpenSC 0.23 does not recognise a CPS4. Source: scripts/bench-e2e.sh; "
                 "scripts/bench-plot.py --e2e."):
        body.append(f"<text x='10' y='{y}' font-size='10' fill='#555' {FONT}>"
                    f"{html.escape(note)}</text>")
        y += 13
    height = y + 12
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}'>",
           f"<rect width='{width}' height='{height}' fill='white'/>"] + body + ["</svg>"]
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {dst}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--e2e":
        e2e(sys.argv[2:])
        return
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
