#!/usr/bin/env python3
"""Checks export/train_torch.py's process handling without PyTorch (the default tests' .venv
has none; `make test-torch` runs the script itself under torchrun).

    python tests/python/check_torch_script.py export/train_torch.py

The script's own code is read from its source (ast) and run here on stand-ins for tensors
and for torch.distributed:
  - it compiles;
  - torchrun_env, share and rank_seed: no torchrun variables means one process; shares
    partition every global batch; rank 0 keeps the run's seed, other ranks get others;
  - the single-process path: Cluster() touches no torch.distributed, and each of its methods
    is the plain operation (the batch loss is per_example.sum() / .mean() as before, the
    sparsity statistics h.mean(0), sums and the model unchanged);
  - the distributed path: Cluster under torchrun starts the process group (gloo on the CPU,
    nccl on a GPU) and a second group for the statistics, wraps the model in
    DistributedDataParallel, scales a share's loss so that the average of the ranks'
    gradients is the global batch's, and all-reduces the sparsity statistics with autograd;
  - main() takes the single-process Cluster when torchrun_env finds nothing, and seeds the
    noise per rank and the data order per run.
Exits non-zero with a message on the first failure.
"""

import ast
import contextlib
import py_compile
import sys
import tempfile
import types


def check(cond, message):
    if not cond:
        print(f"check_torch_script: FAIL: {message}", file=sys.stderr)
        sys.exit(1)


def definitions(tree, names, namespace):
    """Executes the script's top-level functions / classes called `names` in `namespace`."""
    nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names]
    found = {n.name for n in nodes}
    check(found == set(names), f"train_torch.py lacks {sorted(set(names) - found)}")
    exec(compile(ast.Module(body=nodes, type_ignores=[]), "train_torch.py", "exec"), namespace)
    return namespace


class Recorder:
    """Records every attribute it is asked for; stands in for the torch module."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def __getattr__(self, attr):
        self.log.append(f"{self.name}.{attr}")
        return Recorder(self.log, f"{self.name}.{attr}")


def recording(log, name):
    """A function that records its calls as (name, args, kwargs) and returns a fresh object."""
    def call(*args, **kwargs):
        log.append((name, args, kwargs))
        return object()
    return call


class Num(float):
    """A number standing in for a tensor that is cloned."""

    def clone(self):
        return self


class Tensor:
    """A number standing in for a tensor: sum() and mean() of a share of values."""

    def __init__(self, values, log):
        self.values, self.log = values, log

    def sum(self, *dims):
        self.log.append(("sum", dims))
        return Num(sum(self.values))

    def mean(self, *dims):
        self.log.append(("mean", dims))
        return sum(self.values) / len(self.values)


@contextlib.contextmanager
def modules(replacements):
    """sys.modules with some entries replaced (None: importing it fails), then as it was."""
    saved = {k: sys.modules.get(k) for k in replacements}
    sys.modules.update(replacements)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def check_helpers(ns):
    torchrun_env, share, rank_seed = ns["torchrun_env"], ns["share"], ns["rank_seed"]
    check(torchrun_env({}) is None, "without torchrun's variables the script must run as one process")
    check(torchrun_env({"MASTER_ADDR": "x", "LOCAL_RANK": "0"}) is None, "RANK and WORLD_SIZE are what torchrun sets")
    check(torchrun_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == (3, 1, 4), "torchrun_env reads RANK, LOCAL_RANK, WORLD_SIZE")
    for bad in ({"RANK": "4", "WORLD_SIZE": "4"}, {"RANK": "-1", "WORLD_SIZE": "2"}):
        try:
            torchrun_env(bad)
            check(False, f"torchrun_env accepted {bad}")
        except ValueError:
            pass
    for n in range(0, 41):
        check(share(n, 0, 1) == (0, n), f"one process must take the whole batch of {n}")
        for world in range(1, 9):
            parts = [share(n, r, world) for r in range(world)]
            check(parts[0][0] == 0 and parts[-1][1] == n and all(a[1] == b[0] for a, b in zip(parts, parts[1:])),
                  f"shares of {n} over {world} processes do not partition it: {parts}")
            sizes = [hi - lo for lo, hi in parts]
            check(max(sizes) - min(sizes) <= 1, f"shares of {n} over {world} differ by more than one: {sizes}")
    for s in (1, 2, 3750, 2 ** 32 - 1, 2 ** 40 + 5):
        check(rank_seed(s, 0) == s, "rank 0 must keep the run's seed")
        low = {rank_seed(s, r) % 2 ** 32 for r in range(64)}  # PyTorch's CPU generator uses 32 bits
        check(len(low) == 64, f"the ranks of a run with seed {s} must get seeds that differ in their low 32 bits")
        check(all(0 <= rank_seed(s, r) < 2 ** 64 for r in range(64)), "seeds must fit torch.manual_seed")
    check([rank_seed(7, r) for r in range(4)] == [rank_seed(7, r) for r in range(4)], "seeds must be the same on every run")


def check_single_process(ns):
    Cluster = ns["Cluster"]
    log = []
    ns["torch"] = Recorder(log, "torch")  # any use of torch by the single-process Cluster is recorded
    with modules({"torch": None, "torch.distributed": None}):  # importing them fails
        c = Cluster()
        model = object()
        check((c.rank, c.world) == (0, 1), "Cluster() must be rank 0 of 1")
        check(c.wrap(model) is model, "one process must train the model itself, not a wrapper")
        check(c.sum(2.5) == 2.5, "one process's sums must stay as they are")
        for reduction, op in (("sum", "sum"), ("mean", "mean")):
            calls = []
            value = c.batch_loss({"reduction": reduction}, Tensor([1.0, 2.0, 6.0], calls), 3)
            check(calls == [(op, ())] and value == (9.0 if op == "sum" else 3.0),
                  f"one process's batch loss must be per_example.{op}() as before, got {calls} = {value}")
        calls = []
        c.batch_mean(Tensor([1.0, 3.0], calls), 2)
        check(calls == [("mean", (0,))], f"one process's sparsity statistics must be h.mean(0) as before, got {calls}")
        c.close()
    check(log == [], f"the single-process Cluster used torch: {log}")


def check_distributed(ns):
    Cluster = ns["Cluster"]
    log = []

    def module(name, **attrs):
        m = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(m, k, v)
        return m

    class Function:
        """torch.autograd.Function: apply runs forward."""

        @classmethod
        def apply(cls, *args):
            return cls.forward(None, *args)

    dist = module("torch.distributed", **{f: recording(log, f"dist.{f}") for f in
                                          ("init_process_group", "new_group", "all_reduce", "destroy_process_group")})
    fakes = {
        "torch": module("torch", autograd=types.SimpleNamespace(Function=Function)),
        "torch.distributed": dist,
        "torch.nn": module("torch.nn"),
        "torch.nn.parallel": module("torch.nn.parallel", DistributedDataParallel=recording(log, "DDP")),
    }
    fakes["torch"].distributed = dist
    ns["torch"] = fakes["torch"]
    with modules(fakes):
        for kind, backend, ids in (("cpu", "gloo", None), ("cuda", "nccl", [1])):
            log.clear()
            c = Cluster(1, 1, 2, device=types.SimpleNamespace(type=kind, index=1))
            check(c.backend == backend, f"on {kind} the backend must be {backend}, got {c.backend}")
            names = [name for name, _, _ in log]
            check(names[:2] == ["dist.init_process_group", "dist.new_group"],
                  f"Cluster under torchrun must start the process group, then the statistics' group: {names}")
            check(log[0][2].get("backend") == backend, f"init_process_group on {kind}: {log[0]}")
            model = object()
            log.clear()
            c.wrap(model)
            check(log and log[0][0] == "DDP" and log[0][1] == (model,) and log[0][2].get("device_ids") == ids,
                  f"the model must be wrapped in DistributedDataParallel (device_ids {ids}): {log}")
        # Rank 1 of 2 holds 1 of a global batch of 3; DDP averages the two ranks' gradients.
        calls = []
        value = c.batch_loss({"reduction": "sum"}, Tensor([4.0], calls), 3)
        check(value == 8.0, f"a summed loss's share must count twice with two processes (DDP averages): {value}")
        value = c.batch_loss({"reduction": "mean"}, Tensor([4.0], calls), 3)
        check(abs(value - 4.0 * 2 / 3) < 1e-12, f"a batch mean's share must be its sum * processes / global batch: {value}")
        log.clear()
        calls = []
        q = c.batch_mean(Tensor([1.0, 3.0], calls), 8)
        check(calls == [("sum", (0,))] and log == [("dist.all_reduce", (4.0,), {"group": c.stats_group})] and q == 0.5,
              f"the sparsity statistics must be the column sums all-reduced in the statistics' group, over the global batch: {calls} {log} {q}")
        log.clear()
        grad = c.sum_over_processes.__self__.backward(None, Num(2.0))
        check(log == [("dist.all_reduce", (2.0,), {"group": c.stats_group})] and grad == 2.0,
              f"the statistics' all-reduce must sum the processes' gradients in its backward pass: {log}")


def check_main(tree, source):
    main = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)
    check(main is not None, "train_torch.py has no main()")
    text = ast.get_source_segment(source, main)
    for needle, why in [
        ("env = torchrun_env(os.environ)", "main must ask torchrun_env whether torchrun started it"),
        ("Cluster(*env, device=device) if env else Cluster()", "without torchrun main must train as one process"),
        ("torch.manual_seed(rank_seed(seed, cluster.rank))", "noise must be seeded per process"),
        ("generator = torch.Generator().manual_seed(seed)", "the data order must be the run's, the same on every process"),
        ("runner = cluster.wrap(model)", "training must go through the Cluster's wrapper"),
        ("if args.save and cluster.rank == 0:", "only rank 0 may write --save"),
        ('if cluster.world > cfg["batch"]:', "more processes than the batch must be refused"),
    ]:
        check(needle in text, f"{why} (main lacks `{needle}`)")
    # torch.distributed and DDP are used inside Cluster only.
    cluster = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Cluster")
    inside = {id(n) for n in ast.walk(cluster)}
    for node in ast.walk(tree):
        name = getattr(node, "attr", None) or getattr(node, "id", None) or getattr(node, "module", None)
        if name and any(s in name for s in ("distributed", "DistributedDataParallel", "init_process_group")):
            check(id(node) in inside, f"{name} is used outside Cluster (line {node.lineno})")


def main(script):
    source = open(script).read()
    with tempfile.TemporaryDirectory() as tmp:
        py_compile.compile(script, cfile=f"{tmp}/train_torch.pyc", doraise=True)
    tree = ast.parse(source)
    ns = definitions(tree, ["torchrun_env", "share", "rank_seed", "Cluster"], {})
    check_helpers(ns)
    check_single_process(ns)
    check_distributed(ns)
    check_main(tree, source)
    print("check_torch_script: ok: compiles; one process without torchrun, unchanged; "
          "under torchrun: process group, DDP, shares, loss scaling, global sparsity statistics")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
