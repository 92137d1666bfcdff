//! A command-line driver of the multiprocess core, for `tests/python/test_mmap_compat.py`
//! (until the core has Python bindings):
//!
//! * `mp_tool merge DIR [text|openmetrics]`: prints the merged view of DIR's `.db` files in
//!   the given format, and one line per warning on stderr;
//! * `mp_tool write FILE`: reads lines `KEY<TAB>VALUE<TAB>TIMESTAMP` from stdin (KEY as
//!   prometheus_client writes it) and writes each into FILE, decoding and re-encoding the
//!   key with the core's JSON codec;
//! * `mp_tool mark-dead DIR PID`: removes PID's `live*` gauge files.
//!
//! Build with `cargo build --no-default-features --example mp_tool`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use fastprom::core::format::{Escaping, Format};
use fastprom::core::model::FamilySource;
use fastprom::core::multiprocess::{collect, decode_key, encode_key, mark_process_dead, MmapDict};
use fastprom::core::registry::encode_families;

fn merge(dir: &str, format: &str) -> Result<(), String> {
    let format = match format {
        "text" => Format::Text {
            escaping: Escaping::Underscores,
        },
        "openmetrics" => Format::OpenMetrics {
            escaping: Escaping::Underscores,
            major: 1,
        },
        other => return Err(format!("unknown format {other:?}")),
    };
    let merged = collect(Path::new(dir));
    for w in &merged.warnings {
        eprintln!("{w}");
    }
    let families: Vec<&dyn FamilySource> = merged
        .families
        .iter()
        .map(|f| f as &dyn FamilySource)
        .collect();
    let bytes = encode_families(&format, &families).map_err(|e| e.to_string())?;
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| e.to_string())
}

fn write(file: &str) -> Result<(), String> {
    let dict = MmapDict::open(file).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut parts = line.split('\t');
        let (Some(key), Some(value), Some(ts)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("bad line {line:?}"));
        };
        let k = decode_key(key).map_err(|e| format!("{key}: {e}"))?;
        let key = encode_key(&k.metric_name, &k.sample_name, &k.labels, &k.help);
        let value: f64 = value.parse().map_err(|_| format!("bad value {value:?}"))?;
        let ts: f64 = ts.parse().map_err(|_| format!("bad timestamp {ts:?}"))?;
        dict.write_value(&key, value, ts)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["merge", dir] => merge(dir, "text"),
        ["merge", dir, format] => merge(dir, format),
        ["write", file] => write(file),
        ["mark-dead", dir, pid] => mark_process_dead(pid, Path::new(dir))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Err(
            "usage: mp_tool merge DIR [text|openmetrics] | write FILE | mark-dead DIR PID".into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mp_tool: {e}");
            ExitCode::FAILURE
        }
    }
}
