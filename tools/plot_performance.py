#!/usr/bin/python3
"""Plots the GPU benchmark results (docs/gpu-results/*.json, from scripts/gpu-bench.sh) into
docs/images/performance.png: model-level images/s against batch size per image size, with the
PyTorch baselines, and end-to-end throughput and latency against concurrency.

    tools/plot_performance.py [RESULTS_DIR] [OUT.png]
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = sys.argv[1] if len(sys.argv) > 1 else "docs/gpu-results"
out = sys.argv[2] if len(sys.argv) > 2 else "docs/images/performance.png"
model = [r for r in json.load(open(os.path.join(results, "model_fix.json"))) if r["kind"] == "model"]
baseline = {b["size"]: b for b in json.load(open(os.path.join(results, "baseline.json")))}
e2e = sorted((json.load(open(os.path.join(results, f))) for f in os.listdir(results) if f.startswith("e2e_") and f.endswith(".json")),
             key=lambda r: r["concurrency"])

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
for size, colour in ((256, "tab:blue"), (512, "tab:orange"), (1024, "tab:green")):
    points = [(r["batch"], r["images_per_second"]) for r in model if r["size"] == size and r["images_per_second"] > 0]
    left.plot([p[0] for p in points], [p[1] for p in points], "o-", color=colour, label=f"ours, {size} px")
    if size in baseline and baseline[size]["tuned_images_per_second"]:
        left.axhline(baseline[size]["tuned_images_per_second"], color=colour, ls="--", lw=1,
                     label=f"tuned PyTorch, {size} px (batch {baseline[size]['tuned_batch']})")
left.set_xscale("log", base=2)
left.set_yscale("log")
left.set_xlabel("batch size")
left.set_ylabel("images/s")
left.set_title("Model level (H100, fp16, style cached)")
left.legend(fontsize=7)
left.grid(True, which="both", alpha=0.3)

conc = [r["concurrency"] for r in e2e]
right.plot(conc, [r["ok_throughput_rps"] for r in e2e], "o-", color="tab:orange", label="throughput (req/s)")
right.set_xscale("log", base=2)
right.set_xlabel("client concurrency")
right.set_ylabel("requests/s")
right.set_title("End to end through gRPC, 512 px JPEG in and out")
twin = right.twinx()
twin.plot(conc, [r["latency_ms"]["p50"] for r in e2e], "s--", color="tab:purple", label="p50 latency (ms)")
twin.plot(conc, [r["latency_ms"]["p99"] for r in e2e], "^--", color="tab:red", label="p99 latency (ms)")
twin.set_yscale("log")
twin.set_ylabel("latency (ms)")
lines = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
labels = right.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
right.legend(lines, labels, fontsize=7, loc="upper left")
right.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
