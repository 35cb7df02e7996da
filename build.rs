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
        frame_offsets(asm, &arch);
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

/// Reads the saved-frame layout off the switch's own instructions and writes
/// it to `$OUT_DIR/frame_asm.rs`, where src/arch/mod.rs asserts at compile
/// time that the offsets Rust uses to build a fresh frame are the ones the
/// assembly saves and restores.
fn frame_offsets(asm: &str, arch: &str) {
    let text = fs::read_to_string(asm).expect("read the switch's assembly");
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("goro_ctx_switch:"))
        .take_while(|l| !l.contains(".cfi_endproc"))
        .map(|l| l.split("/*").next().unwrap_or("").trim())
        .collect();
    let mut consts: Vec<(String, usize)> = Vec::new();
    match arch {
        "x86_64" => {
            // Pushes until the stack pointer is stored: the last push is at
            // offset 0, the return address above the first.
            let pushes: Vec<&str> = body
                .iter()
                .take_while(|l| !l.starts_with("movq    %rsp, (%rdi)"))
                .filter_map(|l| l.strip_prefix("pushq").map(str::trim))
                .collect();
            let n = pushes.len();
            for (k, p) in pushes.iter().enumerate() {
                let name = if *p == "$0" {
                    "MXCSR".to_string()
                } else {
                    p.trim_start_matches('%').to_uppercase()
                };
                consts.push((name, 8 * (n - 1 - k)));
            }
            consts.push(("RET".into(), 8 * n));
            consts.push(("SIZE".into(), 8 * n + 8));
        }
        "aarch64" => {
            for l in &body {
                if let Some(rest) = l.strip_prefix("sub     sp, sp, #") {
                    consts.push(("SIZE".into(), rest.trim().parse().expect("frame size")));
                }
                if let Some(rest) = l.strip_prefix("stp") {
                    // "d8,  d9,  [sp, #0]"
                    let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
                    if parts.len() == 4 && parts[2] == "[sp" {
                        let off: usize = parts[3]
                            .trim_start_matches('#')
                            .trim_end_matches(']')
                            .parse()
                            .expect("offset");
                        consts.push((parts[0].to_uppercase(), off));
                        consts.push((parts[1].to_uppercase(), off + 8));
                    }
                }
            }
        }
        _ => {}
    }
    let mut out = String::from("// Generated by build.rs from the switch's assembly.\n");
    for (name, off) in consts {
        out.push_str(&format!(
            "#[allow(dead_code)]\npub(crate) const ASM_{name}: usize = {off};\n"
        ));
    }
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("frame_asm.rs"),
        out,
    )
    .unwrap();
}
