// Variant body: no workgroup memory and no barriers. Each invocation reads its TM rows of
// op(A) and four columns of op(B) straight from the buffers and keeps a TM×4 block of C in
// registers. For software adapters (lavapipe, SwiftShader), where a barrier costs a
// context switch between emulated invocations and the CPU's caches do the staging that
// workgroup memory does on a real GPU.

struct Ids {
    @builtin(global_invocation_id) gid: vec3<u32>,
}

fn product(ids: Ids) -> Tile {
    let i0 = ids.gid.y * TM;
    let j0 = ids.gid.x * 4u;
    var acc: array<vec4<f32>, TM>;
    if (i0 >= P.m || j0 >= P.n) { return Tile(acc, i0, TM, j0, false); }
    for (var p = 0u; p < P.k; p++) {
        let bv = b_row4(p, j0);
        for (var r = 0u; r < TM; r++) {
            acc[r] += a_at(min(i0 + r, P.m - 1u), p) * bv;
        }
    }
    return Tile(acc, i0, TM, j0, true);
}
