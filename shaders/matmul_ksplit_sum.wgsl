// Variant body, second half of `ksplit` (after matmul_ksplit.wgsl): the partial blocks are
// added in workgroup memory (one barrier) and invocation r writes row r.

var<workgroup> partial: array<vec4<f32>, WGX * TM>; // partial[t * TM + r]

fn product(ids: Ids) -> Tile {
    let block = partial_product(ids);
    partial[ids.t * TM + $ru] = block.acc$r;
    workgroupBarrier();
    var sum = vec4<f32>(0.0);
    if (ids.t < TM) {
        for (var q = 0u; q < WGX; q++) {
            sum += partial[q * TM + ids.t];
        }
    }
    return row_of_block(block, ids.t, sum);
}
