"""Categorical consensus at scale: Dawid-Skene EM against majority vote and crowd-kit's DawidSkene.

Pure numpy, no database::

    make bench-consensus                                  # 200,000 tasks × 5 answers = 1,000,000 labels
    make bench-consensus BENCH_ARGS='--tasks 2000 --repeat 1'
    .venv/bin/pip install crowd-kit                       # optional: adds crowd-kit's DawidSkene side by side

What it does (README.md beside this file has the figures and how to read them):

1. Generates a synthetic crowd with a fixed ``--seed`` (see ``generate``): ``--tasks`` tasks whose
   true class (of ``--classes``) is drawn from skewed priors; ``--annotators`` annotators, of whom
   ``--spammers`` (a share) answer uniformly at random and the rest have an accuracy drawn
   uniformly from ``--accuracy`` (low,high) and spread their errors over the wrong classes with
   Dirichlet(1) weights (so each one has their own bias); every task gets ``--answers`` answers
   from distinct annotators drawn uniformly.
2. For each method: once in a forked child for the peak RSS growth (freed heap trimmed, the
   high-water mark reset through ``/proc/self/clear_refs``, then VmHWM − VmRSS; ``ru_maxrss`` of
   the whole bench process is reported too), ``--repeat`` times for the seconds (best and median),
   once under ``tracemalloc`` for the peak of Python allocations (numpy reports its buffers to it):
   - ``majority_vote``: vectorised (one ``np.bincount``, argmax, ties → lowest class);
   - ``dawid_skene (cold)``: ``annotation.quality.dawid_skene`` from majority-vote posteriors;
   - ``dawid_skene (warm)``: the same from the generator's true confusion matrices (what the
     stored per-annotator matrices give in production), uniform priors;
   - ``crowd-kit DawidSkene``: if ``crowdkit`` is importable, ``DawidSkene(n_iter=100, tol=1e-5)``
     (its defaults) on a DataFrame of the same answers (building the DataFrame is not timed).
3. Accuracy of each against the true classes, the iterations run, and the hardware; writes
   ``bench/results/consensus-<time>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from annotation.quality.dawid_skene import accuracy_from_confusion, dawid_skene  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
ACCURACY_NOISE = 0.0001  # 20 tasks in 200,000: the spread of EM's stopping point (README.md)


def log(msg: str = "") -> None:
    print(msg, flush=True)


def accuracy_range(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    return low, high


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=200_000)
    p.add_argument("--answers", type=int, default=5, help="answers per task, from distinct annotators")
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--annotators", type=int, default=1000)
    p.add_argument(
        "--spammers", type=float, default=0.1, help="share of annotators answering uniformly at random"
    )
    p.add_argument(
        "--accuracy", type=accuracy_range, default=(0.55, 0.95), help="accuracy range of the others: low,high"
    )
    p.add_argument("--seed", type=int, default=20261127)
    p.add_argument("--repeat", type=int, default=5, help="timed runs per method (best and median reported)")
    p.add_argument("--max-iter", type=int, default=50)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--no-crowdkit", action="store_true", help="skip crowd-kit even when it is installed")
    p.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/consensus-<time>.json)"
    )
    a = p.parse_args(argv)
    low, high = a.accuracy
    if a.tasks < 1 or a.classes < 2 or a.repeat < 1 or a.max_iter < 1:
        p.error("--tasks and --repeat must be at least 1, --classes at least 2")
    if not 1 <= a.answers <= a.annotators:
        p.error("--answers must be between 1 and --annotators")
    if not 0 <= a.spammers <= 1 or not 0 < low <= high <= 1:
        p.error("--spammers must be in [0, 1] and --accuracy a range within (0, 1]")
    return a


# --- data ------------------------------------------------------------------------------------------


def generate(args: argparse.Namespace) -> dict:
    """The synthetic crowd (deterministic for a seed): true classes, confusion matrices, answers."""
    rng = np.random.default_rng(args.seed)
    t, k, w, r = args.tasks, args.classes, args.annotators, args.answers
    priors = np.arange(k, 0, -1, dtype=float)
    priors /= priors.sum()  # 4 classes: 0.4, 0.3, 0.2, 0.1
    truth = rng.choice(k, size=t, p=priors)

    spammer = rng.random(w) < args.spammers
    acc = rng.uniform(*args.accuracy, size=w)
    errors = rng.dirichlet(np.ones(k - 1), size=(w, k))  # per true class: how the errors spread
    conf = np.empty((w, k, k))
    for c in range(k):  # K is small; the matrices, not the answers
        others = [j for j in range(k) if j != c]
        conf[:, c, c] = acc
        conf[:, c, others] = (1 - acc)[:, None] * errors[:, c, :]
    conf[spammer] = 1.0 / k

    # r distinct annotators per task: draw, then redraw the duplicates until none are left.
    who = rng.integers(0, w, size=(t, r))
    while True:
        s = np.sort(who, axis=1)
        dup_rows = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not len(dup_rows):
            break
        who[dup_rows] = rng.integers(0, w, size=(len(dup_rows), r))

    tasks = np.repeat(np.arange(t), r)
    workers = who.ravel()
    cum = np.cumsum(conf[workers, truth[tasks]], axis=1)
    labels = (rng.random(len(tasks))[:, None] > cum[:, :-1]).sum(axis=1)
    order = rng.permutation(len(tasks))  # answers arrive in no particular order
    return {
        "tasks": tasks[order],
        "workers": workers[order],
        "labels": labels[order],
        "truth": truth,
        "confusion": conf,
        "spammer": spammer,
        "accuracy": np.where(spammer, 1.0 / k, acc),
    }


def majority_vote_arrays(
    tasks: np.ndarray, labels: np.ndarray, *, n_tasks: int, n_classes: int
) -> np.ndarray:
    """Vectorised majority vote: one bincount of (label, task) pairs; ties → the lowest class."""
    votes = np.bincount(labels * n_tasks + tasks, minlength=n_classes * n_tasks).reshape(n_classes, n_tasks)
    return np.argmax(votes, axis=0)


# --- measurement -----------------------------------------------------------------------------------


def hardware() -> dict:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "ram_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "loadavg_at_start": os.getloadavg(),
    }


def _status_mb(key: str) -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None


def _rss_child(fn, conn) -> None:
    """In a forked child: hand freed heap back to the OS, reset the RSS high-water mark, run
    ``fn`` once and send the peak RSS growth (MB), or None where the kernel cannot reset it."""
    try:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        try:
            Path("/proc/self/clear_refs").write_text("5")  # Linux ≥ 4.0: VmHWM := VmRSS
        except OSError:
            conn.send(None)
            return
        rss0 = _status_mb("VmRSS")
        fn()
        peak = _status_mb("VmHWM")
        conn.send(None if rss0 is None or peak is None else round(peak - rss0, 1))
    finally:
        conn.close()


def rss_growth_mb(fn) -> float | None:
    """Peak RSS growth of one run of ``fn``, measured in a forked child so that memory the parent
    freed earlier (and the allocator kept) is not mistaken for memory the run did not need."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_rss_child, args=(fn, child))
    proc.start()
    child.close()
    try:
        value = parent.recv()
    except EOFError:
        value = None
    proc.join()
    return value


def measure(name: str, fn, *, repeat: int) -> tuple[object, dict]:
    rss = rss_growth_mb(fn)  # first, while the parent holds little freed memory
    seconds, cpu = [], []
    result = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)  # this process's CPU time: less sensitive to a busy machine
    tracemalloc.start()
    fn()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    figures = {
        "seconds_best": round(min(seconds), 4),
        "seconds_median": round(statistics.median(seconds), 4),
        "seconds_all": [round(s, 4) for s in seconds],
        "cpu_seconds_best": round(min(cpu), 4),
        "tracemalloc_peak_mb": round(traced_peak / 1024 / 1024, 1),
        "rss_growth_mb": rss,
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    log(
        f"  {name:<24} best {figures['seconds_best']:.3f} s, median {figures['seconds_median']:.3f} s "
        f"(CPU {figures['cpu_seconds_best']:.3f} s), tracemalloc peak {figures['tracemalloc_peak_mb']} MB, "
        f"RSS growth {figures['rss_growth_mb']} MB"
    )
    return result, figures


def crowdkit_runner(data: dict, args: argparse.Namespace):
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None, None
    import crowdkit

    df = pd.DataFrame({"task": data["tasks"], "worker": data["workers"], "label": data["labels"]})
    version = getattr(crowdkit, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("crowd-kit")

    def run():
        model = DawidSkene(n_iter=100, tol=args.tol)
        labels = model.fit_predict(df)
        return model, labels.reindex(range(args.tasks)).to_numpy()

    return run, version


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    hw = hardware()
    log("== Hardware ==")
    for k, v in hw.items():
        log(f"  {k}: {v}")

    t0 = time.perf_counter()
    data = generate(args)
    n = len(data["tasks"])
    truth = data["truth"]
    log(f"\n== Data (seed {args.seed}, generated in {time.perf_counter() - t0:.1f} s) ==")
    log(
        f"  {args.tasks:,} tasks × {args.answers} answers = {n:,} labels, {args.classes} classes, "
        f"{args.annotators:,} annotators ({int(data['spammer'].sum())} spammers), "
        f"accuracy of the others uniform in {args.accuracy}"
    )
    log(
        f"  mean annotator accuracy (answers right): "
        f"{float((data['labels'] == truth[data['tasks']]).mean()):.4f}"
    )

    common = {
        "n_tasks": args.tasks,
        "n_workers": args.annotators,
        "n_classes": args.classes,
        "max_iter": args.max_iter,
        "tol": args.tol,
    }
    methods = {
        "majority_vote": lambda: majority_vote_arrays(
            data["tasks"], data["labels"], n_tasks=args.tasks, n_classes=args.classes
        ),
        "dawid_skene_cold": lambda: dawid_skene(data["tasks"], data["workers"], data["labels"], **common),
        "dawid_skene_warm": lambda: dawid_skene(
            data["tasks"], data["workers"], data["labels"], init_confusion=data["confusion"], **common
        ),
    }
    ck_run, ck_version = (None, None) if args.no_crowdkit else crowdkit_runner(data, args)

    log("\n== Timings ==")
    results = {}
    for name, fn in methods.items():
        out, figures = measure(name, fn, repeat=args.repeat)
        labels = out if isinstance(out, np.ndarray) else out.labels
        figures["right"] = int((labels == truth).sum())
        figures["accuracy"] = round(figures["right"] / args.tasks, 5)
        if not isinstance(out, np.ndarray):
            figures.update(iterations=out.iterations, converged=out.converged)
            # Each annotator's estimated accuracy against the generator's (the mean absolute error).
            est_acc = accuracy_from_confusion(out.confusion, out.priors)
            figures["annotator_accuracy_mae"] = round(float(np.abs(est_acc - data["accuracy"]).mean()), 4)
        results[name] = figures
    if ck_run is not None:
        out, figures = measure(f"crowd-kit {ck_version}", ck_run, repeat=min(args.repeat, 3))
        model, labels = out
        figures["right"] = int((labels == truth).sum())
        figures["accuracy"] = round(figures["right"] / args.tasks, 5)
        figures["iterations"] = len(model.loss_history_)
        figures["version"] = ck_version
        results["crowdkit_dawid_skene"] = figures
    elif args.no_crowdkit:
        log("  crowd-kit: skipped (--no-crowdkit)")
    else:
        log("  crowd-kit: not installed (`.venv/bin/pip install crowd-kit` to compare side by side)")

    log("\n== Accuracy against the true classes ==")
    for name, fig in results.items():
        extra = f", {fig['iterations']} iterations" if "iterations" in fig else ""
        log(f"  {name:<24} {fig['accuracy']:.5f} ({fig['right']:,} right){extra}")
    ck = results.get("crowdkit_dawid_skene")
    comparison = None
    if ck:
        ours = results["dawid_skene_cold"]
        speedup = ck["seconds_best"] / ours["seconds_best"]
        cpu_speedup = ck["cpu_seconds_best"] / ours["cpu_seconds_best"]
        more_right = ours["right"] - ck["right"]
        # "At least as accurate" up to EM's own noise: where each run stops moves a few tasks in
        # 200,000 either way (bench/README.md has a seed sweep), so 0.01 pp is allowed.
        met = speedup >= 2 and ours["accuracy"] >= ck["accuracy"] - ACCURACY_NOISE
        log(
            f"\n  dawid_skene (cold) vs crowd-kit: {speedup:.1f}× faster (best of runs), accuracy "
            f"{ours['accuracy']:.5f} vs {ck['accuracy']:.5f} ({more_right:+d} tasks right); CPU time "
            f"{cpu_speedup:.1f}× less"
        )
        log(
            f"  goal (≥ 2× faster, accuracy ≥ crowd-kit's − {ACCURACY_NOISE:.2%}): "
            f"{'met' if met else 'NOT met'}"
        )
        comparison = {
            "speedup_best": round(speedup, 2),
            "cpu_speedup_best": round(cpu_speedup, 2),
            "accuracy_ours": ours["accuracy"],
            "accuracy_crowdkit": ck["accuracy"],
            "tasks_right_difference": more_right,
            "goal_met": met,
        }

    hw["loadavg_at_end"] = os.getloadavg()
    log(
        f"\n  load average at start {hw['loadavg_at_start']}, at end {hw['loadavg_at_end']} "
        f"({hw['cpus']} CPUs): "
        "a figure above the CPU count means other work shared the machine"
    )
    params = {k: v for k, v in vars(args).items() if k != "json"}
    result = {
        "started": started.isoformat(),
        "hardware": hw,
        "params": params,
        "labels": n,
        "results": results,
        "vs_crowdkit": comparison,
    }
    path = args.json or RESULTS_DIR / f"consensus-{started:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    log(f"\nbench: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
