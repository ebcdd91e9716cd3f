//! Every WGSL module the GPU backend builds (the op families and each matmul kernel
//! variant, put together from the files in shaders/) parses and validates with naga, so a
//! shader error fails here without a GPU, naming the module.

use aeplay::backend::gpu::kernels::{all_modules, Variant};
use aeplay::backend::gpu::SHADERS;

fn validate(name: &str, src: &str, subgroups: bool) -> naga::Module {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let caps = if subgroups { naga::valid::Capabilities::SUBGROUP } else { naga::valid::Capabilities::default() };
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    module
}

#[test]
fn every_module_validates() {
    // Subgroup sizes of the adapters we know: SwiftShader 4, lavapipe 8, NVIDIA 32, AMD 64.
    for sg in [4, 8, 32, 64] {
        for m in all_modules(sg) {
            let module = validate(&m.name, &m.source, m.subgroups);
            assert!(!module.entry_points.is_empty(), "{} has no entry point", m.name);
        }
    }
}

#[test]
fn matmul_variants_have_every_entry_point() {
    for v in Variant::ALL {
        let m = aeplay::backend::gpu::kernels::matmul_module(v, 32);
        let module = validate(&m.name, &m.source, m.subgroups);
        let names: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
        for want in ["matmul", "linear_forward", "linear_backward", "matmul_sgd", "matmul_adam"] {
            assert!(names.contains(&want), "{} lacks {want}: {names:?}", m.name);
        }
    }
}

#[test]
fn subgroup_variant_needs_the_capability() {
    let m = aeplay::backend::gpu::kernels::matmul_module(Variant::KsplitSubgroup, 32);
    let module = naga::front::wgsl::parse_str(&m.source).unwrap();
    let without = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default()).validate(&module);
    assert!(without.is_err(), "the subgroup variant validated without subgroup support: it must be built only where the device has it");
}

#[test]
fn every_shader_file_is_built_in() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".wgsl") {
            assert!(SHADERS.iter().any(|(n, _)| *n == name), "shaders/{name} is not in gpu::SHADERS");
        }
    }
}
