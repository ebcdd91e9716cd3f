//! Every WGSL module the GPU backend builds (the op families and each matmul kernel
//! variant, put together from the files in shaders/) parses and validates with naga, so a
//! shader error fails here without a GPU, naming the module.

use aeplay::backend::gpu::kernels::{all_modules, fixed_module, matmul_module, Variant};
use aeplay::backend::gpu::params::{self, Shader};
use aeplay::backend::gpu::{Kernel, SHADERS};

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

/// The modules that read `shader`'s parameter block: its file's, or every matmul variant's.
fn modules_of(shader: Shader) -> Vec<aeplay::backend::gpu::kernels::Module> {
    match shader {
        Shader::Matmul => Variant::ALL.iter().map(|&v| matmul_module(v, 32)).collect(),
        s => vec![fixed_module(s)],
    }
}

#[test]
fn every_params_struct_matches_its_wgsl() {
    for shader in params::ALL {
        let rust = shader.params();
        for m in modules_of(shader) {
            let module = validate(&m.name, &m.source, m.subgroups);
            // The uniform at group 0, binding 0.
            let var = module
                .global_variables
                .iter()
                .map(|(_, v)| v)
                .find(|v| v.binding.as_ref().is_some_and(|b| b.group == 0 && b.binding == 0))
                .unwrap_or_else(|| panic!("{}: no binding 0", m.name));
            assert_eq!(var.space, naga::AddressSpace::Uniform, "{}: binding 0 is not a uniform", m.name);
            let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
                panic!("{}: binding 0 is not a struct", m.name);
            };
            let wgsl: Vec<(&str, usize, u32)> = members
                .iter()
                .map(|mb| (mb.name.as_deref().unwrap_or("?"), mb.offset as usize, module.types[mb.ty].inner.size(module.to_ctx())))
                .collect();
            let names: Vec<(&str, usize)> = wgsl.iter().map(|&(n, o, _)| (n, o)).collect();
            assert_eq!(names, rust.fields, "{} against {}: fields and offsets", rust.name, m.name);
            assert_eq!(*span as usize, rust.size, "{} against {}: size", rust.name, m.name);
            // Each field as wide as the Rust one (the gap to the next field, or to the end).
            for (i, &(name, off, size)) in wgsl.iter().enumerate() {
                let end = rust.fields.get(i + 1).map_or(rust.size, |f| f.1);
                assert_eq!(size as usize, end - off, "{}.{name}: size", rust.name);
            }
        }
    }
}

#[test]
fn every_kernel_is_an_entry_point_of_its_module() {
    let kernels = Kernel::FIXED.into_iter().chain(Variant::ALL.iter().flat_map(|&v| aeplay::backend::gpu::MatmulEntry::ALL.map(|e| Kernel::Matmul(v, e))));
    for k in kernels {
        let m = match k {
            Kernel::Matmul(v, _) => matmul_module(v, 32),
            k => fixed_module(k.shader()),
        };
        let module = validate(&m.name, &m.source, m.subgroups);
        assert!(module.entry_points.iter().any(|e| e.name == k.entry()), "{k:?}: no {} in {}", k.entry(), m.name);
        // Its storage bindings 1.. with the access the backend's layout gives them.
        for (i, &read_only) in k.read_only().iter().enumerate() {
            let binding = i as u32 + 1;
            let (_, var) = module
                .global_variables
                .iter()
                .find(|(_, v)| v.binding.as_ref().is_some_and(|b| b.group == 0 && b.binding == binding))
                .unwrap_or_else(|| panic!("{k:?}: {} has no binding {binding}", m.name));
            let naga::AddressSpace::Storage { access } = var.space else { panic!("{k:?}: binding {binding} is not storage") };
            assert_eq!(!access.contains(naga::StorageAccess::STORE), read_only, "{k:?}: binding {binding} of {}", m.name);
        }
    }
    // Every op-family file's entry points are kernels of the backend.
    for shader in params::ALL.into_iter().filter(|&s| s != Shader::Matmul) {
        let m = fixed_module(shader);
        let module = validate(&m.name, &m.source, false);
        for e in &module.entry_points {
            assert!(Kernel::FIXED.iter().any(|k| k.entry() == e.name && k.shader() == shader), "{}: entry point {} is no Kernel", m.name, e.name);
        }
    }
}
