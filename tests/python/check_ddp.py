#!/usr/bin/env python3
"""Under torchrun: train_torch.py's data-parallel gradient is the global batch's gradient.

    torchrun --standalone --nproc_per_node=2 tests/python/check_ddp.py SCRIPT MODEL.safetensors...

For each model file (the presets exported untrained by `aeplay export --preset`), every
process builds the model with the script's own code and takes its share of one global batch
of 37 images (so two processes hold 18 and 19): its loss through the script's
batch_objective, backward through DistributedDataParallel and, for the sparsity penalty, the
all-reduce of the batch statistics. The gradients each process ends up with must equal the
single-process gradient of the whole batch (computed beside it with Cluster(), the same noise
and the same samples of a variational code) to float32 rounding. Also: the per-process seeds
draw different noise on different ranks. Exits non-zero with a message on the first failure.
"""

import importlib.util
import json
import os
import sys

import torch


def check(cond, message):
    if not cond:
        print(f"check_ddp: FAIL (rank {os.environ.get('RANK')}): {message}", file=sys.stderr)
        sys.exit(1)


def load_script(path):
    spec = importlib.util.spec_from_file_location("train_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(script, files):
    tt = load_script(script)
    env = tt.torchrun_env(os.environ)
    check(env is not None and env[2] >= 2, "run me under torchrun with at least 2 processes")
    device = tt.pick_device("cpu", env)
    cluster = tt.Cluster(*env, device=device)
    rank, world = cluster.rank, cluster.world
    dist = cluster.dist

    # Per-rank seeds draw different noise; the same seed on all ranks would not.
    torch.manual_seed(tt.rank_seed(1, rank))
    draws = [torch.zeros(4) for _ in range(world)]
    dist.all_gather(draws, torch.rand(4))
    check(all(not torch.equal(draws[0], d) for d in draws[1:]), "the ranks drew the same noise")

    n = 37  # not divisible by 2 or 4: the shares differ in size
    lo, hi = tt.share(n, rank, world)
    real_corrupt, real_randn_like = tt.corrupt, torch.randn_like
    for path in files:
        cfg, meta, tensors = tt.load_model_file(path)
        width = cfg["dims"][0]
        # The same global batch, noise and code samples on every rank.
        g = torch.Generator().manual_seed(17)
        x = torch.rand(n, width, generator=g)
        torch.manual_seed(23)
        noisy = real_corrupt(cfg, x)
        eps = torch.randn(n, max(cfg["dims"]), generator=g)
        current = {}
        tt.corrupt = lambda cfg, inp: current["noisy"]
        torch.randn_like = lambda mu: current["eps"][:, :mu.shape[1]]

        def model():
            m = tt.Autoencoder(cfg)
            m.load_state_dict({name: tensors[name] for name, _ in m.named_parameters()}, strict=True)
            return m

        # One process, the whole batch.
        ref = model()
        current.update(noisy=noisy, eps=eps)
        loss, per_example = tt.batch_objective(cfg, ref, ref, tt.Cluster(), x, n)
        loss.backward()
        whole = per_example.sum().item()

        # This rank's share, through DistributedDataParallel.
        mine = model()
        runner = cluster.wrap(mine)
        current.update(noisy=noisy[lo:hi], eps=eps[lo:hi])
        loss, per_example = tt.batch_objective(cfg, mine, runner, cluster, x[lo:hi], n)
        loss.backward()
        shared = cluster.sum(per_example.sum().item())
        check(abs(shared - whole) <= 1e-5 * abs(whole), f"{cfg['name']}: summed losses {shared} != {whole}")
        worst = 0.0
        for (name, p), (_, q) in zip(mine.named_parameters(), ref.named_parameters()):
            scale = q.grad.abs().max().item()
            err = (p.grad - q.grad).abs().max().item()
            worst = max(worst, err / max(scale, 1e-30))
            check(err <= 2e-5 * scale + 1e-9, f"{cfg['name']}: {name}.grad differs by {err:.3g} (largest {scale:.3g})")
        tt.corrupt, torch.randn_like = real_corrupt, real_randn_like
        del runner
        if rank == 0:
            print(json.dumps({"check": "ddp_gradient", "preset": cfg["name"], "processes": world, "batch": n,
                              "shares": [tt.share(n, r, world)[1] - tt.share(n, r, world)[0] for r in range(world)],
                              "max_relative_error": worst}), flush=True)
    cluster.close()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2:])
