//! Generates the C header from src/ffi with cbindgen.
//!
//! The header is written to OUT_DIR on every build; tests/header.rs fails if
//! the committed include/microbatch.h differs from it. Set
//! MICROBATCH_UPDATE_HEADER=1 to refresh the committed copy.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=MICROBATCH_UPDATE_HEADER");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("microbatch.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(&out);
            if std::env::var_os("MICROBATCH_UPDATE_HEADER").is_some() {
                bindings.write_to_file(crate_dir.join("include/microbatch.h"));
            }
        }
        // A syntax error in src is reported by rustc with better context.
        Err(e) => println!("cargo:warning=cbindgen could not generate the header: {e}"),
    }
}
