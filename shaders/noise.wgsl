// Random draws on the GPU with the counter-based generator of core::rng (bit for bit for
// the uniforms; the normals go through log and cos, equal up to their rounding): input
// corruption of the denoising presets, and the variational code z = μ + e^{γ/2}·ε with
// its backward pass.

struct Params {
    len: u32, x_off: u32, out_off: u32, kind: u32,
    seed: u32, stream: u32, p1: f32, p2: f32,
    // reparam: rows, latent, eps_off, kl_off, sample, scale
    rows: u32, latent: u32, eps_off: u32, kl_off: u32,
    sample: u32, scale: f32, dz_off: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> eps: array<f32>;
@group(0) @binding(4) var<storage, read_write> kl: array<f32>;

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn uniform01(seed: u32, stream: u32, i: u32) -> f32 {
    let r = pcg_hash(i ^ pcg_hash(stream ^ pcg_hash(seed)));
    return f32(r >> 8u) * (1.0 / 16777216.0);
}

fn uniform2(seed: u32, stream: u32, i: u32) -> f32 {
    return uniform01(seed ^ 0x68e31da4u, stream, i);
}

fn normal(seed: u32, stream: u32, i: u32) -> f32 {
    let u1 = uniform01(seed, stream, i);
    let u2 = uniform2(seed, stream, i);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.2831855 * u2);
}

// kind 1 masking (p1 keep), 2 Gaussian (p1 σ), 3 salt-and-pepper (p1 fraction),
// 4 dropout (p1 keep, p2 = 1/keep); 0 copies.
@compute @workgroup_size(256)
fn noise(ids: Flat) {
    let i = index(ids);
    if (i >= P.len) { return; }
    let v = x[P.x_off + i];
    var o = v;
    switch P.kind {
        case 1u: { o = select(0.0, v, uniform01(P.seed, P.stream, i) < P.p1); }
        case 2u: { o = v + P.p1 * normal(P.seed, P.stream, i); }
        case 3u: {
            if (uniform01(P.seed, P.stream, i) < P.p1) {
                o = select(1.0, 0.0, uniform2(P.seed, P.stream, i) < 0.5);
            }
        }
        case 4u: { o = select(0.0, v * P.p2, uniform01(P.seed, P.stream, i) < P.p1); }
        default: {}
    }
    out[P.out_off + i] = o;
}

// One thread per row: x = h = [μ | γ] (rows × 2L), out = z (rows × L), eps (rows × L),
// kl (rows).
@compute @workgroup_size(64)
fn reparam_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= P.rows) { return; }
    let L = P.latent;
    var s = 0.0;
    for (var j = 0u; j < L; j++) {
        let mu = x[P.x_off + r * 2u * L + j];
        let g = x[P.x_off + r * 2u * L + L + j];
        let i = r * L + j;
        var e = 0.0;
        if (P.sample != 0u) { e = normal(P.seed, P.stream, i); }
        eps[P.eps_off + i] = e;
        out[P.out_off + i] = mu + exp(0.5 * g) * e;
        s += 0.5 * (exp(g) + mu * mu - 1.0 - g);
    }
    kl[P.kl_off + r] = s;
}

// One thread per code element: x = h, eps read from binding 3, dz from binding 4 at
// dz_off, out = dh (rows × 2L).
@compute @workgroup_size(256)
fn reparam_backward(ids: Flat) {
    let i = index(ids);
    if (i >= P.rows * P.latent) { return; }
    let L = P.latent;
    let r = i / L;
    let j = i % L;
    let mu = x[P.x_off + r * 2u * L + j];
    let g = x[P.x_off + r * 2u * L + L + j];
    let d = kl[P.dz_off + i];
    out[P.out_off + r * 2u * L + j] = d + P.scale * mu;
    out[P.out_off + r * 2u * L + L + j] = d * eps[P.eps_off + i] * 0.5 * exp(0.5 * g) + P.scale * 0.5 * (exp(g) - 1.0);
}
