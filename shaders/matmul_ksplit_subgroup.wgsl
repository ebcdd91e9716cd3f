// Variant body: matmul_ksplit.wgsl with the partial blocks added by subgroup operations
// instead of workgroup memory: the workgroup is one subgroup (WGX is the adapter's
// subgroup size, offered only where that size is fixed), so there is no barrier at all.
// Built only where the device has wgpu's SUBGROUP feature.

struct Ids {
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
}

fn product(ids: Ids) -> Tile {
    let row0 = ids.wid.y * TM;
    let col0 = ids.wid.x * 4u;
    let i$r = min(row0 + $ru, P.m - 1u);
    var acc$r = vec4<f32>(0.0);
    for (var p0 = 0u; p0 < P.k; p0 += WGX) {
        let p = p0 + ids.t;
        if (p < P.k) {
            let bv = b_row4(p, col0);
            acc$r += a_at(i$r, p) * bv;
        }
    }
    // Every invocation gets every row's sum; invocation r keeps row r's.
    let s$r = subgroupAdd(acc$r);
    var out: Tile;
    if (ids.t == $ru) { out.acc0 = s$r; }
    out.row = row0 + ids.t;
    out.rows = 1u;
    out.col = col0;
    out.live = ids.t < TM;
    return out;
}
