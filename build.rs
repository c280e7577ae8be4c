//! Compiles the BPF programs in bpf/ into a skeleton, only when the `record` feature is on:
//! a replay-only build (`--no-default-features`) needs neither clang nor libelf.
//! Also tells `kellect --version` the git revision and the features of the build.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    version_info();
    #[cfg(feature = "record")]
    record::build();
}

/// Sets `KELLECT_GIT_REVISION` (the commit checked out, 12 hex digits, or `unknown` when
/// the source is not a git checkout or git is missing) and `KELLECT_FEATURES` (`record
/// and replay`, or `replay-only`) for `kellect --version`.
fn version_info() {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let revision = git(&["rev-parse", "--short=12", "HEAD"]);
    if revision.is_some() {
        // A new commit or checkout changes HEAD or the branch it names: build again then.
        // Only files that exist: a missing one would run this script (and clang) on every
        // build.
        let branch = git(&["symbolic-ref", "-q", "HEAD"]);
        for file in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
            if let Some(path) = git(&["rev-parse", "--git-path", file]) {
                if std::path::Path::new(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
        }
    }
    println!(
        "cargo:rustc-env=KELLECT_GIT_REVISION={}",
        revision.as_deref().unwrap_or("unknown")
    );
    let features = match std::env::var_os("CARGO_FEATURE_RECORD") {
        Some(_) => "record and replay",
        None => "replay-only",
    };
    println!("cargo:rustc-env=KELLECT_FEATURES={features}");
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
