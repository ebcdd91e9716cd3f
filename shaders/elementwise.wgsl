// Element-wise ops over flat buffers: masking noise (the counter-based generator of
// core::rng, bit for bit), the SGD step, copies, and the gather that builds a batch from
// the u8 dataset kept on the GPU (4 pixels packed per u32).

struct Params {
    len: u32, a_off: u32, b_off: u32, out_off: u32,
    seed: u32, stream: u32, fparam: f32, dim: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn index(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn uniform01(seed: u32, stream: u32, i: u32) -> f32 {
    let r = pcg_hash(i ^ pcg_hash(stream ^ pcg_hash(seed)));
    return f32(r >> 8u) * (1.0 / 16777216.0);
}

// out = a with probability fparam (keep), else 0
@compute @workgroup_size(256)
fn noise_masking(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(lid, wid, nwg);
    if (i >= P.len) { return; }
    out[P.out_off + i] = select(0.0, a[P.a_off + i], uniform01(P.seed, P.stream, i) < P.fparam);
}

// out (params) −= fparam (lr) · a (grads)
@compute @workgroup_size(256)
fn sgd_step(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(lid, wid, nwg);
    if (i >= P.len) { return; }
    out[P.out_off + i] -= P.fparam * a[P.a_off + i];
}

@compute @workgroup_size(256)
fn copy(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(lid, wid, nwg);
    if (i >= P.len) { return; }
    out[P.out_off + i] = a[P.a_off + i];
}
