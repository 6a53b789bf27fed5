#!/usr/bin/env python3
"""Plots curves of an xlstm-train metrics.jsonl as an SVG (no third-party packages).

    scripts/plot_metrics.py OUT/metrics.jsonl -o curve.svg
    scripts/plot_metrics.py OUT/metrics.jsonl -o bpb.svg --keys validation/loss loss --bits \
        --title "byte-level LM on fortunes"

Each line of metrics.jsonl is a JSON object with "step" and numbers such as "loss" (training, over
the last logging interval) and "<split>/loss" (validation). Without --keys the script draws
"loss" and every "<split>/loss" it finds. --bits divides by ln 2 (nats per byte -> bits per byte for
a byte-level LM). --log-y uses a logarithmic y axis.
"""

import argparse
import json
import math
import os
import sys

WIDTH, HEIGHT = 720, 420
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 40, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def read_series(paths, keys):
    """{key: [(step, value), ...]} over the files (later files continue earlier ones)."""
    series = {}
    for path in paths:
        with open(path) as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    sys.exit(f"{path}:{number}: not JSON: {error}")
                run = record.get("run")
                if isinstance(run, dict) and isinstance(run.get("first_step"), int):
                    # A resumed run logs again from its checkpoint: its lines replace the later ones.
                    first = run["first_step"]
                    series = {k: [p for p in v if p[0] <= first] for k, v in series.items()}
                if "step" not in record:
                    continue
                wanted = keys or [k for k in record if k == "loss" or k.endswith("/loss")]
                for key in wanted:
                    value = record.get(key)
                    if isinstance(value, (int, float)) and math.isfinite(value):
                        series.setdefault(key, []).append((record["step"], float(value)))
    missing = [k for k in keys or [] if k not in series]
    if missing:
        sys.exit(f"no values for {', '.join(missing)} in {', '.join(paths)}")
    if not series:
        sys.exit(f"no loss values in {', '.join(paths)}")
    return series


def nice_ticks(low, high, count=5):
    """About `count` round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def label(value):
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2e}"


def render(series, title, y_label, log_y):
    transform = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    points = [(s, v) for values in series.values() for s, v in values]
    if log_y and any(v <= 0 for _, v in points):
        sys.exit("--log-y needs positive values")
    x_low, x_high = min(s for s, _ in points), max(s for s, _ in points)
    y_values = [transform(v) for _, v in points]
    y_low, y_high = min(y_values), max(y_values)
    pad = 0.05 * (y_high - y_low or 1.0)
    y_low, y_high = y_low - pad, y_high + pad
    x_high = x_high if x_high > x_low else x_low + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x_of(step):
        return MARGIN_LEFT + (step - x_low) / (x_high - x_low) * plot_w

    def y_of(value):
        return MARGIN_TOP + (y_high - transform(value)) / (y_high - y_low) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for tick in nice_ticks(x_low, x_high):
        x = x_of(tick)
        out.append(f'<line x1="{x:.1f}" y1="{MARGIN_TOP}" x2="{x:.1f}" '
                   f'y2="{MARGIN_TOP + plot_h}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{MARGIN_TOP + plot_h + 18}" '
                   f'text-anchor="middle">{label(tick)}</text>')
    y_ticks = nice_ticks(y_low, y_high)
    for tick in y_ticks:
        value = 10 ** tick if log_y else tick
        y = MARGIN_TOP + (y_high - tick) / (y_high - y_low) * plot_h
        out.append(f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{MARGIN_LEFT + plot_w}" '
                   f'y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{label(value)}</text>')
    out.append(f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" '
               'fill="none" stroke="black"/>')
    out.append(f'<text x="{MARGIN_LEFT + plot_w / 2}" y="{HEIGHT - 12}" '
               'text-anchor="middle">step</text>')
    out.append(f'<text x="16" y="{MARGIN_TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {MARGIN_TOP + plot_h / 2})">{escape(y_label)}</text>')
    for index, (key, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in sorted(values))
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, v in values if len(values) <= 40 else []:
            out.append(f'<circle cx="{x_of(s):.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{colour}"/>')
        legend_y = MARGIN_TOP + 16 + 18 * index
        legend_x = MARGIN_LEFT + plot_w - 240
        out.append(f'<line x1="{legend_x}" y1="{legend_y - 4}" x2="{legend_x + 24}" '
                   f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>')
        final = sorted(values)[-1][1]
        out.append(f'<text x="{legend_x + 30}" y="{legend_y}">{escape(key)} '
                   f'(last {final:.3f})</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("metrics", nargs="+", help="metrics.jsonl file(s) of one run")
    parser.add_argument("-o", "--out", required=True, help="SVG file to write")
    parser.add_argument("--keys", nargs="+", help="keys to draw (default: loss and */loss)")
    parser.add_argument("--bits", action="store_true", help="divide by ln 2 (bits per byte)")
    parser.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    parser.add_argument("--title", default="xlstm-train", help="title of the plot")
    parser.add_argument("--y-label", help="y axis label (default: loss, or bits per byte)")
    args = parser.parse_args()
    for path in args.metrics:
        if os.path.exists(args.out) and os.path.samefile(path, args.out):
            sys.exit(f"-o {args.out} is the input {path}: refusing to overwrite it")

    series = read_series(args.metrics, args.keys)
    if args.bits:
        series = {k: [(s, v / math.log(2)) for s, v in vs] for k, vs in series.items()}
    y_label = args.y_label or ("bits per byte" if args.bits else "loss (nats)")
    with open(args.out, "w") as out:
        out.write(render(series, args.title, y_label, args.log_y))
    print(f"{args.out}: {', '.join(f'{k} ({len(v)} points)' for k, v in series.items())}")


if __name__ == "__main__":
    main()
