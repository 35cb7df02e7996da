//! The committed include/goro.h must be exactly what cbindgen generates
//! from the current source (build.rs writes the fresh one to OUT_DIR).

#[test]
fn committed_header_is_fresh() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/goro.h"));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/goro.h"))
        .expect("include/goro.h is missing");
    assert!(
        fresh == committed,
        "include/goro.h is stale: regenerate it with `make header` (GORO_UPDATE_HEADER=1 cargo build --release) and commit it"
    );
}
