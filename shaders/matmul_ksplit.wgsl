// Variant body, first half: the reduction dimension split across the workgroup. The WGX
// invocations of a workgroup share one TM×4 block of C and take every WGX-th p of the
// product each. Many small workgroups for products with few rows and a long k (a batch of
// 16–64 times a 784×500 weight matrix), where 64×64 tiles would leave most of a GPU idle.
// The second half adds the partial blocks: matmul_ksplit_sum.wgsl (workgroup memory) or
// matmul_ksplit_subgroup.wgsl (subgroup operations).

struct Ids {
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
}

// This invocation's share of the workgroup's block: its partial sums in acc$r, the block's
// first row and column in row and col.
fn partial_product(ids: Ids) -> Tile {
    var out: Tile;
    out.row = ids.wid.y * TM;
    out.col = ids.wid.x * 4u;
    let i$r = min(out.row + $ru, P.m - 1u);
    var acc$r = vec4<f32>(0.0);
    // A uniform loop (a barrier may follow, which needs uniform control flow), a
    // per-invocation test.
    for (var p0 = 0u; p0 < P.k; p0 += WGX) {
        let p = p0 + ids.t;
        if (p < P.k) {
            let bv = b_row4(p, out.col);
            acc$r += a_at(i$r, p) * bv;
        }
    }
    out.acc$r = acc$r;
    return out;
}

// The finished tile of invocation t < TM: row t of the block, whose sum is `sum`.
fn row_of_block(block: Tile, t: u32, sum: vec4<f32>) -> Tile {
    var out: Tile;
    out.acc0 = sum;
    out.row = block.row + t;
    out.rows = 1u;
    out.col = block.col;
    out.live = t < TM;
    return out;
}
