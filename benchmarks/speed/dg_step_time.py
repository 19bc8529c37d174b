"""Training-step time of every DG method relative to ERM, same network, patch and batch (CPU by default).

Methods are timed round-robin (one step each per round) so that load drift on a shared machine hits all of them
alike; the median over rounds is reported, as wall-clock and as process CPU time (less sensitive to other jobs on
a shared machine), with forward passes per step and the augmentation time alone.

    .venv/bin/python benchmarks/speed/dg_step_time.py --patch 48 --batch 2 --threads 2 --rounds 7
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from step_timing import build_methods, fixed_batches

from crosspan.core.atomic import write_text
from crosspan.methods.base import get_method, method_names, table_order
from crosspan.models import network_config


def dg_methods() -> list[str]:
    """ERM and every registered DG method, in the registry's table order."""
    return ["erm", *(n for n in table_order(method_names()) if get_method(n).family_name() == "dg")]


def batch(b: int, size: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(b, 1, size, size, size, generator=g)
    label = (torch.rand(b, 1, size, size, size, generator=g) < 0.1).long()
    return {"image": image, "label": label, "domain": torch.arange(b) % 2}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--network", default="tiny")
    ap.add_argument("--methods", default=",".join(dg_methods()))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output", default="benchmarks/results/dg_step_time.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    names = args.methods.split(",")
    cfg = network_config(args.network, [args.patch] * 3, [1.0, 1.0, 1.0])
    methods = build_methods(names, args.network, args.patch, ["A:T1", "B:T1"], dev)
    data = fixed_batches(batch, args.batch, args.patch, 4, dev)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    aug: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.warmup + args.rounds):
        for n, m in methods.items():
            d = data[r % len(data)]
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0, c0 = time.perf_counter(), time.process_time()
            m.update(d)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r >= args.warmup:
                times[n].append(dt)
                cpu[n].append(dc)
                if hasattr(m, "augment"):
                    t1 = time.perf_counter()
                    with torch.no_grad():
                        m.augment(d["image"], d["label"])
                    aug[n].append(time.perf_counter() - t1)
        print(f"round {r + 1}/{args.warmup + args.rounds}", file=sys.stderr)
    erm = statistics.median(times["erm"]) if "erm" in times else float("nan")
    erm_cpu = statistics.median(cpu["erm"]) if "erm" in cpu else float("nan")
    cmd = "python benchmarks/speed/dg_step_time.py " + " ".join(sys.argv[1:])
    lines = [
        "## DG training-step time relative to ERM",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {cpu_name()}, {args.device}, torch {torch.__version__}, {args.threads} threads; "
        f"date {datetime.date.today().isoformat()}  ",
        f"Network `{args.network}` ({type(methods[names[0]].network).__name__}, config {cfg}), "
        f"patch {args.patch}^3, batch {args.batch}, "
        f"median of {args.rounds} steps after {args.warmup} warm-up, methods interleaved round-robin.",
        "",
        "| method | forward passes / step | wall step (s) | x ERM (wall) | CPU step (s) | x ERM (CPU) | "
        "augmentation alone, wall (s) | goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        med = statistics.median(times[n])
        a = f"{statistics.median(aug[n]):.3f}" if aug[n] else "-"
        passes = type(methods[n]).forward_passes  # one pass: the goal of a pure augmentation, <= 1.15x ERM
        goal = "baseline" if n == "erm" else ("<= 1.15x" if passes == 1 else "multi-pass")
        mc = statistics.median(cpu[n])
        lines.append(f"| {n} | {passes} | {med:.3f} | {med / erm:.2f} | {mc:.3f} | "
                     f"{mc / erm_cpu:.2f} | {a} | {goal} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_text(args.output, text)


if __name__ == "__main__":
    main()
