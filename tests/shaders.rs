//! Every WGSL file parses and validates with naga, so a shader error fails here without a
//! GPU, naming the file and the entry points it must have.

use aeplay::backend::gpu::SHADERS;

#[test]
fn every_shader_validates() {
    for (name, src) in SHADERS {
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!module.entry_points.is_empty(), "{name} has no entry point");
    }
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
