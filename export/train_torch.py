#!/usr/bin/env python3
"""Continue training an Autoencoder Playground model in PyTorch, in one process or many.

`aeplay export` (and the page's export) writes this script next to `model.safetensors`.
The script rebuilds the same model from the description stored in the file, loads its
weights and optimizer state, and trains on:

    pip install torch numpy safetensors
    python train_torch.py --data DIR --epochs 5 --save trained.safetensors

DIR holds the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz). Each epoch prints the
mean training loss and the mean loss on the 10,000 clean test images (the numbers the
playground shows). `--save` writes the same file format back, so the model can go back
into the playground.

The file (see the playground's src/io/saved.rs):
  layers.{l}.weight      [out, in]   as nn.Linear keeps it (y = x @ W.T + b)
  layers.{l}.bias        [out]
  optim.{state}.{param}  the optimizer's state per parameter, named as PyTorch names it:
                         momentum_buffer (SGD with momentum), exp_avg / exp_avg_sq (Adam)
  metadata "config"      the model description as JSON; "optim_t" the optimizer's step count;
                         "step", "epoch", "seed", ...
With tied weights a decoder layer l has only a bias and uses layers.{L-1-l}.weight
transposed (L = number of layers).

What is the same as in the playground: the model, the losses, the optimizer and its state,
L2 on the weights only, masking noise. What differs: the random numbers (data order and
noise), so losses match in distribution, not digit for digit.

Several GPUs or machines: start the same script with `torchrun` and it trains data-parallel
(PyTorch's DistributedDataParallel, NCCL between GPUs, Gloo between CPUs):

    torchrun --standalone --nproc_per_node=4 train_torch.py --data DIR --epochs 5 --save trained.safetensors
    # on each of 2 machines (HOST: the first machine's address, reachable from the others):
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \
        --rdzv-id=ae1 train_torch.py --data DIR --epochs 5 --save trained.safetensors

Every process loads the file and the data and draws the same data order; each global batch
(the model's batch size, as on one process) is split between the processes in consecutive
shares of batch // processes examples or one more (150 on 4 processes: 37, 38, 37, 38);
more processes than the batch is refused. The gradient is the global batch's: each
process's loss is scaled so that DistributedDataParallel's average of the processes'
gradients equals it, and the sparsity penalty's mean activations are summed over all
processes before the penalty (an all-reduce that autograd differentiates through). Noise and
the variational code's samples come from a seed per process (the run's seed on process 0),
so processes do not draw the same noise and a run with the same number of processes repeats.
Printed losses are over all processes; only process 0 prints and writes --save.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = "aeplay-model"
FORMAT_VERSION = 1

# The parts of the model description this script implements. Anything else in a file is a
# newer feature: if it is switched on (not null / false / 0 / empty) the script stops and
# says so instead of silently training a different model.
KNOWN_CONFIG_KEYS = {"name", "dims", "activations", "loss", "noise", "optimizer", "init",
                     "reduction", "batch", "tied", "l2", "sparsity", "variational"}
ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "elu": F.elu,  # alpha = 1
}
LOSSES = {"bce_logits", "half_sse", "mse"}
NOISES = {"none", "masking", "gaussian", "salt_pepper", "dropout"}
OPTIMIZERS = {"sgd": [], "momentum": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"]}
REDUCTIONS = {"sum", "mean"}


def fail(message):
    print(f"train_torch.py: error: {message}", file=sys.stderr)
    sys.exit(1)


# --- the file -------------------------------------------------------------------------------

def check_config(cfg):
    """Refuses a description with features this script does not implement."""
    unknown = sorted(k for k, v in cfg.items() if k not in KNOWN_CONFIG_KEYS and v not in (None, False, 0, "", [], {}))
    if unknown:
        fail(f"the model uses features this script does not implement: {', '.join(unknown)} "
             f"(export it again with a newer playground)")
    problems = []
    problems += [f"activation '{a}'" for a in cfg["activations"] if a not in ACTIVATIONS]
    if cfg["loss"] not in LOSSES:
        problems.append(f"loss '{cfg['loss']}'")
    if cfg["noise"]["kind"] not in NOISES:
        problems.append(f"noise '{cfg['noise']['kind']}'")
    if cfg["optimizer"]["kind"] not in OPTIMIZERS:
        problems.append(f"optimizer '{cfg['optimizer']['kind']}'")
    if cfg["reduction"] not in REDUCTIONS:
        problems.append(f"reduction '{cfg['reduction']}'")
    if problems:
        fail(f"the model uses features this script does not implement: {', '.join(problems)}")


def load_model_file(path):
    """Returns (config, metadata, tensors) of a file saved by the playground."""
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    if meta.get("format") != FORMAT:
        fail(f"{path} is not a model saved by the playground (metadata 'format' is {meta.get('format')!r})")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        fail(f"{path} has format version {meta['format_version']}; this script reads {FORMAT_VERSION}")
    cfg = json.loads(meta["config"])
    check_config(cfg)
    return cfg, meta, tensors


# --- the model ------------------------------------------------------------------------------

class TiedDecoder(nn.Module):
    """A decoder layer with tied weights: it owns only its bias and uses its encoder
    partner's weight transposed (see Autoencoder.forward)."""

    def __init__(self, out_features):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(out_features))


def code_layer(cfg):
    """Index into dims of the code (the middle width)."""
    return len(cfg["dims"]) // 2


def out_width(cfg, l):
    """Outputs of layer l: twice the code width for the layer producing a variational
    code's mean and log-variance."""
    if cfg.get("variational") and l + 1 == code_layer(cfg):
        return 2 * cfg["dims"][l + 1]
    return cfg["dims"][l + 1]


class Autoencoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        dims = cfg["dims"]
        n = len(dims) - 1
        layers = []
        for l in range(n):
            if cfg.get("tied") and 2 * l >= n:
                layers.append(TiedDecoder(dims[l + 1]))
            else:
                layers.append(nn.Linear(dims[l], out_width(cfg, l)))
        self.layers = nn.ModuleList(layers)
        self.kl = None      # per-example KL of a variational code (after forward)
        self.hidden = None  # the sparse layer's activations (after forward)

    def forward(self, x, sample=True):
        """The last layer's output; with the BCE loss these are logits (the loss applies the
        sigmoid itself, as the playground does). A variational code is sampled,
        z = mu + exp(logvar / 2) * eps, or is its mean when `sample` is False."""
        n = len(self.layers)
        sparsity = self.cfg.get("sparsity")
        self.kl = torch.zeros(x.shape[0], device=x.device)
        for l, layer in enumerate(self.layers):
            if isinstance(layer, TiedDecoder):
                partner = self.layers[n - 1 - l]
                x = F.linear(x, partner.weight.t(), layer.bias)
            else:
                x = layer(x)
            last = l == n - 1
            if not (last and self.cfg["loss"] == "bce_logits"):
                x = ACTIVATIONS[self.cfg["activations"][l]](x)
            if sparsity and l == sparsity["layer"]:
                self.hidden = x
            if self.cfg.get("variational") and l + 1 == code_layer(self.cfg):
                latent = x.shape[1] // 2
                mu, logvar = x[:, :latent], x[:, latent:]
                self.kl = 0.5 * (logvar.exp() + mu ** 2 - 1 - logvar).sum(1)
                x = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if sample else mu
        return x

    def sparsity_penalty(self, mean_activation=None):
        """beta * sum_j KL(rho || mean activation of unit j over the batch); `mean_activation`
        (the activations -> their mean over the global batch) when processes share a batch."""
        sp = self.cfg.get("sparsity")
        if not sp:
            return 0.0
        q = self.hidden.mean(0) if mean_activation is None else mean_activation(self.hidden)
        rho, q = sp["rho"], q.clamp(1e-6, 1 - 1e-6)
        return sp["beta"] * (rho * torch.log(rho / q) + (1 - rho) * torch.log((1 - rho) / (1 - q))).sum()

    def reconstruct(self, x):
        """Reconstructed pixels (applies the output sigmoid that BCE keeps inside the loss;
        a variational model decodes its mean code)."""
        out = self.forward(x, sample=False)
        return torch.sigmoid(out) if self.cfg["loss"] == "bce_logits" else out

    def weights(self):
        """The weight matrices that L2 decays (not the biases; a tied W counts once)."""
        return [layer.weight for layer in self.layers if isinstance(layer, nn.Linear)]


def loss_per_example(cfg, out, x):
    if cfg["loss"] == "bce_logits":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    if cfg["loss"] == "half_sse":
        return 0.5 * ((out - x) ** 2).sum(1)
    return ((out - x) ** 2).mean(1)  # mse: mean over pixels


def corrupt(cfg, x):
    noise = cfg["noise"]
    if noise["kind"] == "masking":  # keep each pixel with probability `keep`, else 0
        return x * (torch.rand_like(x) < noise["keep"])
    if noise["kind"] == "gaussian":  # add N(0, sigma^2)
        return x + noise["sigma"] * torch.randn_like(x)
    if noise["kind"] == "salt_pepper":  # a fraction p of pixels set to 0 or 1 at random
        hit = torch.rand_like(x) < noise["p"]
        salt = (torch.rand_like(x) < 0.5).to(x.dtype)
        return torch.where(hit, 1.0 - salt, x)
    if noise["kind"] == "dropout":  # keep with probability `keep`, scaled by 1/keep
        return x * (torch.rand_like(x) < noise["keep"]) / noise["keep"]
    return x


def make_optimizer(cfg, model, tensors, t):
    o = cfg["optimizer"]
    if o["kind"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=o["lr"])
    elif o["kind"] == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=o["lr"], momentum=o["momentum"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    # Restore the saved state (nothing to restore before the first step).
    if t > 0:
        for name, p in model.named_parameters():
            state = {s: tensors[f"optim.{s}.{name}"].to(p.device).clone() for s in OPTIMIZERS[o["kind"]]}
            if o["kind"] == "adam":
                state["step"] = torch.tensor(float(t))
            if state:
                opt.state[p] = state
    return opt


def optimizer_step_count(cfg, opt, model, t_before, steps):
    if cfg["optimizer"]["kind"] == "adam":
        return int(opt.state[next(model.parameters())]["step"].item())
    return t_before + steps


# --- data -----------------------------------------------------------------------------------

def read_idx(directory, name):
    """An IDX file (raw or gzip) as a numpy array of uint8."""
    for path in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
                fail(f"{path} is not an IDX file of unsigned bytes")
            ndim = data[3]
            shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    fail(f"{name}[.gz] not found in {directory}")


def load_images(directory, prefix):
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    return torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)


# --- processes ------------------------------------------------------------------------------

def torchrun_env(environ):
    """(rank, local_rank, world_size) from the variables torchrun sets, or None when the
    script was not started by torchrun (then it trains in this one process)."""
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    rank, world = int(environ["RANK"]), int(environ["WORLD_SIZE"])
    local_rank = int(environ.get("LOCAL_RANK", rank))
    if not 0 <= rank < world or local_rank < 0:
        raise ValueError(f"RANK {rank}, LOCAL_RANK {local_rank}, WORLD_SIZE {world}")
    return rank, local_rank, world


def share(n, rank, world):
    """The slice [lo, hi) of n examples that process `rank` of `world` takes: consecutive,
    together all n, sizes n // world or one more."""
    return rank * n // world, (rank + 1) * n // world


def rank_seed(seed, rank):
    """The seed of a process's noise and sampling: the run's seed on rank 0 (one process draws
    as it always did), a different stream on every other rank, the same on every run. Seeds
    differ in their low 32 bits, the only ones PyTorch's CPU generator uses."""
    return seed if rank == 0 else (seed + rank * 0x9E3779B9) % 2 ** 32


class Cluster:
    """The processes training together. Cluster() is this process alone: every method is then
    the plain single-process operation and torch.distributed is not touched."""

    def __init__(self, rank=0, local_rank=0, world=1, device=None):
        self.rank, self.local_rank, self.world = rank, local_rank, world
        if world == 1:
            self.backend = None
            return
        import torch.distributed as dist
        self.dist = dist
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.device = device
        dist.init_process_group(backend=self.backend)
        # The sparsity statistics' all-reduce runs in the backward pass too; its own group
        # keeps it apart from DistributedDataParallel's gradient all-reduces.
        self.stats_group = group = dist.new_group(backend=self.backend)

        class SumOverProcesses(torch.autograd.Function):
            """A tensor summed over the processes, differentiable: the gradient that reaches
            each process's summand is the sum of all processes' gradients of the result."""

            @staticmethod
            def forward(ctx, x):
                x = x.clone()
                dist.all_reduce(x, group=group)
                return x

            @staticmethod
            def backward(ctx, grad):
                grad = grad.clone()
                dist.all_reduce(grad, group=group)
                return grad

        self.sum_over_processes = SumOverProcesses.apply

    def wrap(self, model):
        """The module to call in training: the model, or the model in DistributedDataParallel."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def sum(self, value):
        """A float summed over the processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        self.dist.all_reduce(t)
        return t.item()

    def batch_loss(self, cfg, per_example, n):
        """The data term this process contributes for its share of a global batch of n
        examples. DistributedDataParallel averages the processes' gradients, so the share's
        sum is scaled by the number of processes (and 1/n for the batch mean): the average
        is then the gradient of the global batch's loss."""
        if self.world == 1:
            return per_example.sum() if cfg["reduction"] == "sum" else per_example.mean()
        scale = self.world if cfg["reduction"] == "sum" else self.world / n
        return per_example.sum() * scale

    def batch_mean(self, h, n):
        """Column means over the global batch of n examples whose rows h this process holds.
        The all-reduce's backward sums the processes' gradients, which DistributedDataParallel
        then averages: the penalty's gradient is the global batch's."""
        if self.world == 1:
            return h.mean(0)
        return self.sum_over_processes(h.sum(0)) / n

    def close(self):
        if self.world > 1:
            self.dist.destroy_process_group()


def pick_device(requested, env):
    """The device: --device, else CUDA if there is a GPU; under torchrun a bare "cuda" means
    this process's GPU, cuda:LOCAL_RANK."""
    device = torch.device(requested or ("cuda" if torch.cuda.is_available() else "cpu"))
    if env is not None and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", env[1])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


# --- training -------------------------------------------------------------------------------

def batch_objective(cfg, model, runner, cluster, x, n):
    """The loss to differentiate for this process's rows x of a global batch of n examples
    (all of it on one process), and their per-example losses. `runner` is the model or its
    DistributedDataParallel wrapper."""
    out = runner(corrupt(cfg, x))
    per_example = loss_per_example(cfg, out, x) + model.kl  # KL: variational models
    loss = cluster.batch_loss(cfg, per_example, n)
    loss = loss + model.sparsity_penalty(lambda h: cluster.batch_mean(h, n))
    if cfg.get("l2"):
        loss = loss + cfg["l2"] * 0.5 * sum((w ** 2).sum() for w in model.weights())
    return loss, per_example


def train_epoch(cfg, model, runner, opt, train, generator, cluster):
    """One pass over the training images in a random order (the same on every process, each
    taking its share of every batch); returns the mean loss and the number of steps."""
    batch = cfg["batch"]
    order = torch.randperm(len(train), generator=generator).to(train.device)
    total, steps = 0.0, 0
    runner.train()
    for start in range(0, len(train), batch):
        ids = order[start:start + batch]
        lo, hi = share(len(ids), cluster.rank, cluster.world)
        loss, per_example = batch_objective(cfg, model, runner, cluster, train[ids[lo:hi]], len(ids))
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += per_example.sum().item()
        steps += 1
    return cluster.sum(total) / len(train), steps


@torch.no_grad()
def test_loss(cfg, model, test, cluster):
    """The mean test loss; processes take shares of the test images."""
    model.eval()
    lo, hi = share(len(test), cluster.rank, cluster.world)
    total = 0.0
    for x in test[lo:hi].split(1000):
        out = model(x)  # a variational code is sampled: the loss is the negative ELBO
        total += (loss_per_example(cfg, out, x) + model.kl).sum().item()
    return cluster.sum(total) / len(test)


def save_model_file(path, cfg, meta, model, opt, t):
    tensors = {name: p.detach().float().cpu().contiguous() for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        for s in OPTIMIZERS[cfg["optimizer"]["kind"]]:
            state = opt.state[p].get(s, torch.zeros_like(p))  # zeros before the first step
            tensors[f"optim.{s}.{name}"] = state.detach().float().cpu().contiguous()
    meta = dict(meta)
    meta["optim_t"] = str(t)
    meta["producer"] = "train_torch.py"
    save_file(tensors, path, metadata=meta)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(here, "model.safetensors"), help="the exported file")
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR", "data"), help="directory with the MNIST IDX files")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--device", help="default: cuda if there is a GPU (under torchrun cuda:LOCAL_RANK), else cpu")
    ap.add_argument("--seed", type=int, default=None, help="default: the file's seed plus its step count")
    ap.add_argument("--save", help="write the trained model here (the playground can load it)")
    args = ap.parse_args()

    env = torchrun_env(os.environ)
    device = pick_device(args.device, env)
    cluster = Cluster(*env, device=device) if env else Cluster()
    say = print if cluster.rank == 0 else (lambda *a, **k: None)

    cfg, meta, tensors = load_model_file(args.model)
    if cluster.world > cfg["batch"]:
        fail(f"{cluster.world} processes cannot share a batch of {cfg['batch']}")
    t = int(meta["optim_t"])
    step, epoch = int(meta["step"]), int(meta["epoch"])
    seed = args.seed if args.seed is not None else int(meta["seed"]) + step
    torch.manual_seed(rank_seed(seed, cluster.rank))  # noise and sampling: per process
    generator = torch.Generator().manual_seed(seed)  # the data order: the same on every process

    model = Autoencoder(cfg)
    params = {name: tensors[name] for name, _ in model.named_parameters()}
    model.load_state_dict(params, strict=True)
    model.to(device)
    opt = make_optimizer(cfg, model, tensors, t)
    runner = cluster.wrap(model)

    train = load_images(args.data, "train").to(device)
    test = load_images(args.data, "t10k").to(device)
    where = f"{device}" + (f", {cluster.world} processes ({cluster.backend})" if cluster.world > 1 else "")
    say(f"model {cfg['name']}: dims {cfg['dims']}, loss {cfg['loss']}, optimizer {cfg['optimizer']['kind']}, "
        f"step {step}, epoch {epoch}, on {where}")
    loaded = test_loss(cfg, model, test, cluster)  # every process takes part; process 0 prints
    say(json.dumps({"event": "loaded", "step": step, "test_loss": loaded}))
    for _ in range(args.epochs):
        started = time.perf_counter()
        train_mean, steps = train_epoch(cfg, model, runner, opt, train, generator, cluster)
        seconds = time.perf_counter() - started
        if not math.isfinite(train_mean):
            fail(f"the training loss became {train_mean}: lower the learning rate")
        step, epoch = step + steps, epoch + 1
        t = optimizer_step_count(cfg, opt, model, t, steps)
        tested = test_loss(cfg, model, test, cluster)
        say(json.dumps({"event": "epoch", "epoch": epoch, "steps": step, "train_loss": train_mean,
                        "test_loss": tested, "seconds": seconds, "processes": cluster.world}))

    if args.save and cluster.rank == 0:
        meta.update(step=str(step), epoch=str(epoch), epoch_pos="0", train_rows=str(len(train)))
        save_model_file(args.save, cfg, meta, model, opt, t)
        say(f"saved {args.save}")
    cluster.close()


if __name__ == "__main__":
    main()
