// Variant body: no workgroup memory and no barriers. Each invocation reads its TM rows of
// op(A) and four columns of op(B) straight from the buffers and keeps a TM×4 block of C in
// registers. For software adapters (lavapipe, SwiftShader), where a barrier costs a
// context switch between emulated invocations and the CPU's caches do the staging that
// workgroup memory does on a real GPU. `direct` keeps 4×4, `direct8` 8×4.

struct Ids {
    @builtin(global_invocation_id) gid: vec3<u32>,
}

fn product(ids: Ids) -> Tile {
    var out: Tile;
    out.row = ids.gid.y * TM;
    out.rows = TM;
    out.col = ids.gid.x * 4u;
    out.live = out.row < P.m && out.col < P.n;
    if (!out.live) { return out; }
    // Rows past the edge read the last row (and are never stored).
    let i$r = min(out.row + $ru, P.m - 1u);
    var acc$r = vec4<f32>(0.0);
    for (var p = 0u; p < P.k; p++) {
        let bv = b_row4(p, out.col);
        acc$r += a_at(i$r, p) * bv;
    }
    out.acc$r = acc$r;
    return out;
}
