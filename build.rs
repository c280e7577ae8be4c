//! Compiles the BPF programs in bpf/ into a skeleton, only when the `record` feature is on:
//! a replay-only build (`--no-default-features`) needs neither clang nor libelf.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "record")]
    record::build();
}

#[cfg(feature = "record")]
mod record {
    use std::path::PathBuf;
    use std::process::Command;

    const SOURCES: &[&str] = &["bpf/kellect.bpf.c", "bpf/records.h", "bpf/vmlinux.h"];

    pub fn build() {
        for source in SOURCES {
            println!("cargo:rerun-if-changed={source}");
        }
        if Command::new("clang").arg("--version").output().is_err() {
            panic!(
                "clang is needed to compile kellect's BPF programs (feature `record`).\n\
                 On Debian/Ubuntu: apt-get install clang libelf-dev zlib1g-dev pkg-config make\n\
                 For a replay-only build without BPF: cargo build --no-default-features"
            );
        }
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
            .join("kellect.skel.rs");
        let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
            Ok("x86_64") => "x86",
            Ok("aarch64") => "arm64",
            Ok(other) => panic!("kellect's recorder does not support target arch {other}"),
            Err(_) => "x86",
        };
        libbpf_cargo::SkeletonBuilder::new()
            .source("bpf/kellect.bpf.c")
            .clang_args(["-Ibpf", "-Wall", "-O2", &format!("-D__TARGET_ARCH_{arch}")])
            .build_and_generate(&out)
            .unwrap_or_else(|e| panic!("compiling bpf/kellect.bpf.c failed: {e:#}"));
    }
}
