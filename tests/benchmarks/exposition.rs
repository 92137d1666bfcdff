//! How the text exposition scales with the number of series, core only (no Python).
//!
//!     cargo bench --no-default-features --bench exposition [-- --quick]
//!
//! Renders a registry holding one labelled counter family of 10 000 and of 100 000 series
//! (the shape `tests/benchmarks/bench_core.py` scrapes), interleaving the two sizes so
//! that both see the same machine load, and prints the median time per render of each
//! and the growth 10k→100k. Linear scaling is a growth of 10×. These are wall times: on
//! a loaded machine the long render is preempted more often than the short one, so run it
//! on a quiet one (`bench_core.py` takes its growth in CPU time for that reason).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use fastprom::core::format::{Escaping, Format};
use fastprom::core::metric::{CounterValue, Desc, Family};
use fastprom::core::registry::Registry;

fn registry(series: usize) -> Registry {
    let desc = Desc::new(
        "requests".into(),
        "Requests".into(),
        String::new(),
        vec!["method".into(), "path".into(), "status".into()],
    );
    let fam: Family<CounterValue> = Family::new(desc, (), 0.0).expect("in-process values");
    for i in 0..series {
        let path = format!("/api/{i}");
        let child = fam
            .child(&["GET", path.as_str(), "200"], || {
                Ok::<f64, fastprom::core::error::Error>(1_700_000_000.0 + i as f64 / 7.0)
            })
            .expect("three label values");
        child.value.inc(i as f64).expect("in-process values");
    }
    let reg = Registry::new();
    reg.add(1, Arc::new(fam), vec!["requests_total".into()], false);
    reg
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per render: the median of `reps` timed renders.
fn time_render(reg: &Registry, format: &Format, reps: usize) -> Vec<f64> {
    (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            black_box(reg.render(format, None).expect("renders"));
            t0.elapsed().as_secs_f64()
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 9 };
    let format = Format::Text {
        escaping: Escaping::Underscores,
    };
    let small = registry(10_000);
    let large = registry(100_000);
    let bytes = large.render(&format, None).expect("renders").len();
    let (mut t_small, mut t_large, mut growth) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let a = median(time_render(&small, &format, 10));
        let b = median(time_render(&large, &format, 3));
        t_small.push(a);
        t_large.push(b);
        growth.push(b / a);
    }
    println!(
        "text exposition, core only, median of {rounds} interleaved rounds ({bytes} bytes at 100k)"
    );
    println!("  10 000 counter series: {:>8.2} ms", median(t_small) * 1e3);
    println!(
        "  100 000 counter series: {:>7.2} ms",
        median(t_large) * 1e3
    );
    println!("  growth 10k→100k: {:.1}× (linear: 10×)", median(growth));
}
