//! `cargo bench`: replay throughput on the checked-in fixtures (no root needed), events and
//! records views, one thread and all. A measurement, not a test: it prints figures.
//! For recorder overhead and large traces see bench/overhead.sh and bench/replay.sh.

use std::path::PathBuf;
use std::time::Instant;

use kellect::replayer::render::output::Sink;
use kellect::replayer::{self, Filter, OutputFormat, RecordsConfig, ReplayConfig, View};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for name in ["catalogue.kz", "records.kz"] {
        let trace = root.join(name);
        let info = replayer::input::trace::open_recordings(std::slice::from_ref(&trace))
            .expect("fixture opens");
        let records = replayer::info::trace_info(&info[0]).records_total;
        for view in [View::Events, View::Records] {
            for threads in [1, num_threads()] {
                let cfg = ReplayConfig {
                    inputs: vec![trace.clone()],
                    format: OutputFormat::JsonMin,
                    view,
                    filter: Filter::default(),
                    records: RecordsConfig::default(),
                    budget: Default::default(),
                };
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let rounds = 50;
                let started = Instant::now();
                let mut out_bytes = 0u64;
                pool.install(|| {
                    for _ in 0..rounds {
                        let mut buf = Vec::new();
                        let mut sink = Sink::new(Some(&mut buf), cfg.format, None);
                        replayer::replay(&cfg, &mut sink).expect("replays");
                        drop(sink);
                        out_bytes += buf.len() as u64;
                    }
                });
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{name:<14} {view:<8} -j {threads}: {:>9.0} records/s, {:>6.1} MB/s of JSON",
                    (records * rounds) as f64 / secs,
                    out_bytes as f64 / secs / 1e6,
                    view = format!("{view:?}").to_lowercase(),
                );
            }
        }
    }
}

fn num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
