// The prelude of every op-family module (gpu::kernels::fixed_module puts it first): the
// builtins of a 1-D kernel of 256-invocation workgroups, dispatched as a 2-D grid of
// workgroups past the 65,535 limit (gpu::recorder's groups_1d), and the flat index of an
// invocation.

struct Flat {
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
}

fn index(ids: Flat) -> u32 {
    return (ids.wid.y * ids.nwg.x + ids.wid.x) * 256u + ids.lid.x;
}
