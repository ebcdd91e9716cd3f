// Variant body: matmul_ksplit.wgsl with the partial blocks added by subgroup operations
// instead of workgroup memory: the workgroup is one subgroup (WGX is the adapter's
// subgroup size, offered only where that size is fixed), so there is no barrier at all.
// Built only where the device has wgpu's SUBGROUP feature.

struct Ids {
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
}

fn product(ids: Ids) -> Tile {
    let i0 = ids.wid.y * TM;
    let j0 = ids.wid.x * 4u;
    var acc: array<vec4<f32>, TM>;
    for (var p0 = 0u; p0 < P.k; p0 += WGX) {
        let p = p0 + ids.t;
        if (p < P.k) {
            let bv = b_row4(p, j0);
            for (var r = 0u; r < TM; r++) {
                acc[r] += a_at(min(i0 + r, P.m - 1u), p) * bv;
            }
        }
    }
    var out: array<vec4<f32>, TM>;
    for (var r = 0u; r < TM; r++) {
        let s = subgroupAdd(acc[r]);
        if (ids.t == r) { out[0] = s; }
    }
    return Tile(out, i0 + ids.t, 1u, j0, ids.t < TM);
}
