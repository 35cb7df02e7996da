//! Assembles the context switch for the target architecture and generates
//! the C header with cbindgen.
//!
//! The header is written to `$OUT_DIR/goro.h` on every build. The committed
//! `include/goro.h` is only rewritten when `GORO_UPDATE_HEADER=1` is set
//! (`make header`); `tests/header.rs` fails when the two differ, so a change
//! to the public API cannot land without its header.

use std::{env, fs, path::PathBuf};

fn main() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let asm = match arch.as_str() {
        "x86_64" => Some("src/arch/x86_64.S"),
        "aarch64" => Some("src/arch/aarch64.S"),
        // src/arch/mod.rs turns this into a clear compile_error!.
        _ => None,
    };
    if let Some(asm) = asm {
        println!("cargo:rerun-if-changed={asm}");
        cc::Build::new().file(asm).compile("goro_ctx");
    }

    // Versioned soname for the installed library (pkg/install.sh): libgoro.so.0.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgoro.so.0");
    // Programs linked against the build tree's libgoro.so record that soname
    // (DT_NEEDED libgoro.so.0), so the build tree needs a libgoro.so.0 too.
    // OUT_DIR is target/[<triple>/]<profile>/build/goro-<hash>/out.
    #[cfg(unix)]
    if let Some(dir) = PathBuf::from(env::var("OUT_DIR").unwrap())
        .ancestors()
        .nth(3)
    {
        let link = dir.join("libgoro.so.0");
        if fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink("libgoro.so", &link);
        }
    }

    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=GORO_UPDATE_HEADER");
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = cbindgen::Builder::new()
        .with_src(dir.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/goro.h");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("goro.h");
    header.write_to_file(&out);
    if env::var("GORO_UPDATE_HEADER").as_deref() == Ok("1") {
        let text = fs::read(&out).unwrap();
        let dest = dir.join("include/goro.h");
        if fs::read(&dest).ok().as_deref() != Some(&text[..]) {
            fs::write(&dest, text).unwrap();
        }
    }
}
