//! Writes the hostile traces (tests/hostile.rs replays them) into a directory:
//!
//! ```sh
//! cargo run --example hostile-traces -- fixtures/hostile
//! cargo run --example hostile-traces -- /tmp/h --bad-blocks 2000000   # + bad-blocks.kz, 50 MB
//! ```

mod gen;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: hostile-traces DIR [--bad-blocks N]");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    for path in gen::write_small(&dir)? {
        println!("{}", path.display());
    }
    if args.next().is_some_and(|a| a == "--bad-blocks") {
        let n: usize = args
            .next()
            .and_then(|n| n.to_str()?.parse().ok())
            .unwrap_or(2_000_000);
        let path = dir.join("bad-blocks.kz");
        std::fs::write(&path, gen::bad_blocks(n))?;
        println!("{}", path.display());
    }
    for (name, what, _) in gen::SMALL {
        eprintln!("{name}: {what}");
    }
    Ok(())
}
