// Variant body: workgroup-tiled product. A WGX×WGY workgroup computes a BM×BN block of
// C (BM = WGY·TM, BN = WGX·4), each invocation a TM×4 block, staging BK-deep slices of
// op(A) and op(B) in workgroup memory. `tiled` (64×64 blocks) is for large products on
// real GPUs; `narrow` (16×64 blocks) gives a batch of 16–64 rows more workgroups.

struct Ids {
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
}

const BM: u32 = WGY * TM;
const BN: u32 = WGX * 4u;
const THREADS: u32 = WGX * WGY;

var<workgroup> a_tile: array<f32, BK * BM>; // a_tile[p * BM + i]
var<workgroup> b_tile: array<f32, BK * BN>; // b_tile[p * BN + j]

fn product(ids: Ids) -> Tile {
    let row0 = ids.wid.y * BM;
    let col0 = ids.wid.x * BN;
    let t = ids.lid.y * WGX + ids.lid.x;
    var acc: array<vec4<f32>, TM>;
    for (var p0 = 0u; p0 < P.k; p0 += BK) {
        // Walk each slice so that neighbouring invocations read neighbouring addresses,
        // whichever way A and B are stored.
        for (var e = t; e < BM * BK; e += THREADS) {
            var i: u32; var p: u32;
            if (P.csa == 1u) { i = e / BK; p = e % BK; } else { i = e % BM; p = e / BM; }
            var v = 0.0;
            if (row0 + i < P.m && p0 + p < P.k) { v = a_at(row0 + i, p0 + p); }
            a_tile[p * BM + i] = v;
        }
        for (var e = t; e < BN * BK; e += THREADS) {
            var p: u32; var j: u32;
            if (P.csb == 1u) { p = e / BN; j = e % BN; } else { j = e / BK; p = e % BK; }
            var v = 0.0;
            if (col0 + j < P.n && p0 + p < P.k) { v = b_at(p0 + p, col0 + j); }
            b_tile[p * BN + j] = v;
        }
        workgroupBarrier();
        for (var p = 0u; p < BK; p++) {
            let jb = p * BN + ids.lid.x * 4u;
            let bv = vec4<f32>(b_tile[jb], b_tile[jb + 1u], b_tile[jb + 2u], b_tile[jb + 3u]);
            for (var r = 0u; r < TM; r++) {
                acc[r] += a_tile[p * BM + ids.lid.y * TM + r] * bv;
            }
        }
        workgroupBarrier();
    }
    return Tile(acc, row0 + ids.lid.y * TM, TM, col0 + ids.lid.x * 4u, true);
}
