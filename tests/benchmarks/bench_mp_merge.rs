//! Scrape time of a multiprocess directory: 64 worker files × 1 000 counter series,
//! written by the core's writer, merged and rendered (text format) by the core, then by
//! prometheus_client's `MultiProcessCollector` over the same files in the same run (when a
//! Python with prometheus_client is found: `$PYTHON`, else `python3`), with both outputs
//! compared byte for byte. Prints medians and the ratio.
//!
//!     cargo run --release --no-default-features --example bench_mp_merge [-- FILES SERIES ROUNDS]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use fastprom::core::format::{Escaping, Format};
use fastprom::core::model::FamilySource;
use fastprom::core::multiprocess::{collect, encode_key, file_name, MmapDict};
use fastprom::core::registry::encode_families;

const TEXT: Format = Format::Text {
    escaping: Escaping::Underscores,
};

fn scrape(dir: &Path) -> Vec<u8> {
    let merged = collect(dir);
    assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    let families: Vec<&dyn FamilySource> = merged
        .families
        .iter()
        .map(|f| f as &dyn FamilySource)
        .collect();
    encode_families(&TEXT, &families).expect("encode")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const PYTHON_SCRAPE: &str = r#"
import statistics, sys, time
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
path, rounds = sys.argv[1], int(sys.argv[2])
registry = CollectorRegistry()
MultiProcessCollector(registry, path=path)
times = []
for _ in range(rounds):
    t = time.perf_counter()
    out = generate_latest(registry)
    times.append(time.perf_counter() - t)
sys.stderr.write("%r\n" % statistics.median(times))
sys.stdout.buffer.write(out)
"#;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("FILES SERIES ROUNDS are numbers"))
        .collect();
    let files = args.first().copied().unwrap_or(64);
    let series = args.get(1).copied().unwrap_or(1000);
    let rounds = args.get(2).copied().unwrap_or(21);
    let dir = std::env::temp_dir().join(format!("fastprom-bench-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the directory");
    let keys: Vec<String> = (0..series)
        .map(|i| {
            let path = format!("/api/v1/item/{i}");
            let method = ["GET", "POST", "PUT", "DELETE"][i % 4];
            encode_key(
                "http_requests",
                "http_requests_total",
                &[("method", method), ("path", path.as_str())],
                "Total HTTP requests.",
            )
        })
        .collect();
    let start = Instant::now();
    for pid in 0..files {
        let d = MmapDict::open(dir.join(file_name("counter", "", &(10_000 + pid).to_string())))
            .expect("open");
        for (i, k) in keys.iter().enumerate() {
            d.slot(k).expect("slot").inc((i + pid) as f64);
        }
    }
    let write = start.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(rounds);
    let mut ours = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        ours = scrape(&dir);
        times.push(t.elapsed().as_secs_f64());
    }
    let fast = median(times);
    println!(
        "{files} files x {series} counter series ({} bytes of output); writing them took {:.1} ms",
        ours.len(),
        write * 1e3
    );
    println!(
        "fastprom core          scrape median {:8.2} ms ({rounds} rounds)",
        fast * 1e3
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let py_rounds = rounds.min(11);
    match Command::new(&python)
        .args(["-c", PYTHON_SCRAPE])
        .arg(&dir)
        .arg(py_rounds.to_string())
        .output()
    {
        Ok(out) if out.status.success() => {
            let slow: f64 = String::from_utf8_lossy(&out.stderr)
                .trim()
                .parse()
                .expect("the median from Python");
            println!(
                "prometheus_client      scrape median {:8.2} ms ({py_rounds} rounds)",
                slow * 1e3
            );
            println!("ratio                  {:8.1}x", slow / fast);
            println!(
                "output identical       {}",
                if out.stdout == ours { "yes" } else { "NO" }
            );
        }
        _ => println!("prometheus_client      not measured ({python} without prometheus_client)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
