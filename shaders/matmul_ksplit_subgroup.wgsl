// Variant body, second half of `ksplit_subgroup` (after matmul_ksplit.wgsl): the partial
// blocks are added by subgroup operations instead of workgroup memory. The workgroup is
// one subgroup (WGX is the adapter's subgroup size, offered only where that size is
// fixed), so there is no barrier at all. Built only where the device has wgpu's SUBGROUP
// feature.

fn product(ids: Ids) -> Tile {
    let block = partial_product(ids);
    // Every invocation gets every row's sum; invocation r keeps row r's.
    let s$r = subgroupAdd(block.acc$r);
    var sum = vec4<f32>(0.0);
    if (ids.t == $ru) { sum = s$r; }
    return row_of_block(block, ids.t, sum);
}
