//! The committed header `include/mesh.h` is what cbindgen generates from
//! this crate: a change to the ABI that forgets the header fails here.
//! `MESH_UPDATE_HEADER=1 cargo test -p mesh-c --test header` rewrites it.

use std::path::Path;

#[test]
fn the_committed_header_matches_the_code() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = crate_dir.join("include/mesh.h");
    if std::env::var_os("MESH_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("the header is writable");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/mesh.h is stale: run `MESH_UPDATE_HEADER=1 cargo test -p mesh-c --test header` and commit it"
    );
}
