// The prelude of every op-family module (gpu::kernels::fixed_module puts it first): the
// flat index of an invocation of a 1-D kernel of 256-invocation workgroups, dispatched as
// a 2-D grid of workgroups past the 65,535 limit (gpu::recorder's groups_1d).

fn index(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}
