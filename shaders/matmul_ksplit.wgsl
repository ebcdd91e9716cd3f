// Variant body: the reduction dimension split across the workgroup. The WGX invocations of
// a workgroup share one TM×4 block of C and take every WGX-th p of the product each; the
// partial blocks are added in workgroup memory (one barrier) and invocation r writes row
// r. Many small workgroups for products with few rows and a long k (a batch of 16–64
// times a 784×500 weight matrix), where 64×64 tiles would leave most of a GPU idle.

struct Ids {
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
}

var<workgroup> partial: array<vec4<f32>, WGX * TM>; // partial[t * TM + r]

fn product(ids: Ids) -> Tile {
    let row0 = ids.wid.y * TM;
    let col0 = ids.wid.x * 4u;
    let i$r = min(row0 + $ru, P.m - 1u);
    var acc$r = vec4<f32>(0.0);
    // A uniform loop (the barrier below needs uniform control flow), a per-invocation test.
    for (var p0 = 0u; p0 < P.k; p0 += WGX) {
        let p = p0 + ids.t;
        if (p < P.k) {
            let bv = b_row4(p, col0);
            acc$r += a_at(i$r, p) * bv;
        }
    }
    partial[ids.t * TM + $ru] = acc$r;
    workgroupBarrier();
    var out: Tile;
    if (ids.t < TM) {
        for (var q = 0u; q < WGX; q++) {
            out.acc0 += partial[q * TM + ids.t];
        }
    }
    out.row = row0 + ids.t;
    out.rows = 1u;
    out.col = col0;
    out.live = ids.t < TM;
    return out;
}
