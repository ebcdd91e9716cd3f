#!/usr/bin/env python3
"""Checks a model exported by `aeplay export` with NumPy and safetensors only (no torch).

    python tests/python/check_export.py EXPORT_DIR DUMP_DIR

EXPORT_DIR holds model.safetensors and train_torch.py as `aeplay export` wrote them.
DUMP_DIR is written by tests/export_python.rs from the Rust side:
  dump.json     the config (JSON text), the flat parameter layout (per layer: fan_in, fan_out, w and b offsets,
                transposed), step, optim_t, the moment buffers' names, n images
  params.f32    our flat parameter buffer (little-endian f32)
  moment{k}.f32 our optimizer moment buffers, same layout
  images.f32    n test images, 784 values each, in [0, 1]
  recon.f32     our reconstructions of them (pixels: the BCE sigmoid applied)

Checks: the metadata; every tensor name, dtype and shape, derived here from the config
alone; the values against our buffers (PyTorch's [out, in] = our [in, out] transposed);
a NumPy forward pass of the model built from the config against our reconstructions;
and that train_torch.py compiles and implements every feature the config uses.
Exits non-zero with a message on the first difference.
"""

import ast
import json
import pathlib
import py_compile
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

MOMENTS = {"sgd": [], "momentum": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"]}


def check(cond, message):
    if not cond:
        print(f"check_export: FAIL: {message}", file=sys.stderr)
        sys.exit(1)


def activate(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    check(False, f"unknown activation {name}")


def out_width(cfg, l):
    """Outputs of layer l: twice the code width for a variational code's [mean | logvar]."""
    if cfg.get("variational") and l + 1 == len(cfg["dims"]) // 2:
        return 2 * cfg["dims"][l + 1]
    return cfg["dims"][l + 1]


def expected_tensors(cfg):
    """Names and shapes of the file's tensors, from the model description alone."""
    dims, n = cfg["dims"], len(cfg["dims"]) - 1
    params = {}
    for l in range(n):
        if not (cfg.get("tied") and 2 * l >= n):
            params[f"layers.{l}.weight"] = (out_width(cfg, l), dims[l])
        params[f"layers.{l}.bias"] = (out_width(cfg, l),)
    out = dict(params)
    for m in MOMENTS[cfg["optimizer"]["kind"]]:
        out.update({f"optim.{m}.{name}": shape for name, shape in params.items()})
    return out


def forward(cfg, tensors, x):
    """Reconstructed pixels, in float64."""
    n = len(cfg["dims"]) - 1
    for l in range(n):
        if f"layers.{l}.weight" in tensors:
            w = tensors[f"layers.{l}.weight"].astype(np.float64)  # [out, in]
        else:  # tied decoder: the encoder partner's weight, transposed
            w = tensors[f"layers.{n - 1 - l}.weight"].astype(np.float64).T
        x = activate(cfg["activations"][l], x @ w.T + tensors[f"layers.{l}.bias"].astype(np.float64))
        if cfg.get("variational") and l + 1 == len(cfg["dims"]) // 2:
            x = x[:, : x.shape[1] // 2]  # the reconstruction decodes the mean code
    return x


def script_names(script, variable):
    """The names in a set or dict literal of train_torch.py (read without importing it: it
    needs torch), e.g. KNOWN_CONFIG_KEYS or the keys of ACTIVATIONS."""
    tree = ast.parse(script.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets):
            if isinstance(node.value, ast.Dict):
                return {ast.literal_eval(k) for k in node.value.keys}
            return set(ast.literal_eval(node.value))
    check(False, f"train_torch.py has no {variable}")


def main(export_dir, dump_dir):
    model = export_dir / "model.safetensors"
    tensors = load_file(str(model))
    with safe_open(str(model), framework="np") as f:
        meta = f.metadata()
    dump = json.loads((dump_dir / "dump.json").read_text())

    # Metadata.
    check(meta.get("format") == "aeplay-model", f"format metadata {meta.get('format')!r}")
    check(meta.get("format_version") == "1", f"format_version {meta.get('format_version')!r}")
    cfg = json.loads(meta["config"])
    check(cfg == json.loads(dump["config"]), "the config in the file differs from the trained one")
    check(int(meta["step"]) == dump["step"] and int(meta["optim_t"]) == dump["optim_t"], f"step/optim_t {meta}")

    # Names, dtypes, shapes: from the config alone.
    expected = expected_tensors(cfg)
    check(set(tensors) == set(expected), f"tensor names {sorted(tensors)} != {sorted(expected)}")
    for name, shape in expected.items():
        check(tensors[name].dtype == np.float32, f"{name} is {tensors[name].dtype}")
        check(tensors[name].shape == shape, f"{name} has shape {tensors[name].shape}, expected {shape}")

    # Values: the file's [out, in] weights are our [in, out] buffers transposed.
    buffers = {"": np.fromfile(dump_dir / "params.f32", dtype="<f4")}
    for k, m in enumerate(dump["moments"]):
        buffers[f"optim.{m}."] = np.fromfile(dump_dir / f"moment{k}.f32", dtype="<f4")
    check(list(dump["moments"]) == MOMENTS[cfg["optimizer"]["kind"]], f"moment names {dump['moments']}")
    for prefix, flat in buffers.items():
        check(flat.size == dump["total"], f"{prefix or 'params'}: {flat.size} values, layout has {dump['total']}")
        for l, s in enumerate(dump["dense"]):
            if not s["transposed"]:
                ours = flat[s["w"]:s["w"] + s["fan_in"] * s["fan_out"]].reshape(s["fan_in"], s["fan_out"])
                check(np.array_equal(tensors[f"{prefix}layers.{l}.weight"], ours.T), f"{prefix}layers.{l}.weight values")
            check(np.array_equal(tensors[f"{prefix}layers.{l}.bias"], flat[s["b"]:s["b"] + s["fan_out"]]), f"{prefix}layers.{l}.bias values")
        check(prefix == "" or np.any(flat != 0), f"{prefix} is all zeros: the optimizer state was not saved")

    # A forward pass in NumPy against our reconstructions.
    n, d = dump["images"], cfg["dims"][0]
    images = np.fromfile(dump_dir / "images.f32", dtype="<f4").reshape(n, d)
    ours = np.fromfile(dump_dir / "recon.f32", dtype="<f4").reshape(n, d)
    ref = forward(cfg, tensors, images.astype(np.float64))
    err = np.abs(ours - ref)
    bad = err > 2e-5 * np.maximum(np.abs(ref), 0.1)
    check(not bad.any(), f"reconstructions differ: max abs error {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}")

    # The PyTorch script: compiles, and implements every feature this config switches on.
    script = export_dir / "train_torch.py"
    py_compile.compile(str(script), doraise=True, cfile=str(dump_dir / "train_torch.pyc"))
    known = script_names(script, "KNOWN_CONFIG_KEYS")
    unknown = [k for k, v in cfg.items() if k not in known and v not in (None, False, 0, "", [], {})]
    check(not unknown, f"train_torch.py does not implement config features {unknown}")
    for table, used in [("ACTIVATIONS", set(cfg["activations"])), ("LOSSES", {cfg["loss"]}),
                        ("NOISES", {cfg["noise"]["kind"]}), ("OPTIMIZERS", {cfg["optimizer"]["kind"]}),
                        ("REDUCTIONS", {cfg["reduction"]})]:
        missing = used - script_names(script, table)
        check(not missing, f"train_torch.py's {table} lacks {sorted(missing)}")

    print(f"check_export: ok: {cfg['name']}: {len(tensors)} tensors, forward pass of {n} images "
          f"(max abs error {err.max():.2e}), train_torch.py compiles")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
