// Variant body: workgroup-tiled product. A WGX×WGY workgroup computes a BM×BN block of
// C (BM = WGY·TM, BN = WGX·4), each invocation a TM×4 block (TM a multiple of 4), staging
// BK-deep slices of op(A) and op(B) in workgroup memory, read back four values at a time.
// `tiled` (64×64 blocks, 4×4 per invocation) and `tiled8` (64×64, 8×4: more arithmetic
// per value read) are for large products on real GPUs; `narrow` (16×64 blocks) gives a
// batch of 16–64 rows more workgroups.

struct Ids {
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
}

const BM: u32 = WGY * TM;
const BN: u32 = WGX * 4u;
const THREADS: u32 = WGX * WGY;
// Row strides of the tiles, one vec4 longer than a row: a slice stored across the rows
// (A row-major, B transposed) then spreads over the memory banks instead of hitting one.
const AS: u32 = BM + 4u;
const BS: u32 = BN + 4u;

var<workgroup> a_tile: array<vec4<f32>, BK * AS / 4u>; // element (p, i) at [p * AS + i]
var<workgroup> b_tile: array<vec4<f32>, BK * BS / 4u>; // element (p, j) at [p * BS + j]

fn product(ids: Ids) -> Tile {
    let row0 = ids.wid.y * BM;
    let col0 = ids.wid.x * BN;
    let t = ids.lid.y * WGX + ids.lid.x;
    var acc$r = vec4<f32>(0.0);
    for (var p0 = 0u; p0 < P.k; p0 += BK) {
        // Walk each slice so that neighbouring invocations read neighbouring addresses,
        // whichever way A and B are stored.
        // Constant trip counts (THREADS divides both tiles): the barrier below needs every
        // invocation to have left the loops together (uniform control flow).
        for (var s = 0u; s < BM * BK / THREADS; s++) {
            let e = t + s * THREADS;
            var i: u32; var p: u32;
            if (P.csa == 1u) { i = e / BK; p = e % BK; } else { i = e % BM; p = e / BM; }
            var v = 0.0;
            if (row0 + i < P.m && p0 + p < P.k) { v = a_at(row0 + i, p0 + p); }
            let at = p * AS + i;
            a_tile[at / 4u][at % 4u] = v;
        }
        for (var s = 0u; s < BN * BK / THREADS; s++) {
            let e = t + s * THREADS;
            var p: u32; var j: u32;
            if (P.csb == 1u) { p = e / BN; j = e % BN; } else { j = e / BK; p = e % BK; }
            var v = 0.0;
            if (col0 + j < P.n && p0 + p < P.k) { v = b_at(p0 + p, col0 + j); }
            let at = p * BS + j;
            b_tile[at / 4u][at % 4u] = v;
        }
        workgroupBarrier();
        for (var p = 0u; p < BK; p++) {
            let bv = b_tile[(p * BS) / 4u + ids.lid.x];
            let a$q = a_tile[(p * AS + ids.lid.y * TM) / 4u + $qu];
            acc$r += a$r/4[$r%4] * bv;
        }
        workgroupBarrier();
    }
    var out: Tile;
    out.acc$r = acc$r;
    out.row = row0 + ids.lid.y * TM;
    out.rows = TM;
    out.col = col0 + ids.lid.x * 4u;
    out.live = true;
    return out;
}
