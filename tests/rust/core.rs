//! Integration tests for src/core through its public API: storage, the registry, the
//! text and OpenMetrics encoders and float formatting. Expected bytes are what
//! prometheus_client 0.26 prints for the same metrics (with `time.time` fixed at 123.456).
//!
//! Run with `cargo test --no-default-features`.

// Floats are compared exactly and written as Python prints them (next to that text); the
// reference scenario names its metrics with one letter, as the Python tests do.
#![allow(
    clippy::float_cmp,
    clippy::unreadable_literal,
    clippy::many_single_char_names
)]

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use fastprom::core::error::{Error, Result};
use fastprom::core::format::{Escaping, Format};
use fastprom::core::handle::Handle;
use fastprom::core::metric::{
    self, Buckets, CounterValue, Desc, Family, GaugeValue, HistogramValue, InfoValue,
    MultiprocessMode, StateSetValue, SummaryValue, DEFAULT_BUCKETS,
};
use fastprom::core::model::{FamilySource, OwnedFamily, OwnedSample, Timestamp};
use fastprom::core::registry::{encode_families, Registry};
use fastprom::core::{fmt, validate};

const NOW: f64 = 123.456;

/// Tests that flip the process-wide legacy-validation flag hold this.
static FLAGS: Mutex<()> = Mutex::new(());

const TEXT: Format = Format::Text {
    escaping: Escaping::Underscores,
};
const OM: Format = Format::OpenMetrics {
    escaping: Escaping::Underscores,
    major: 1,
};

fn desc(name: &str, help: &str, unit: &str, labels: &[&str]) -> Desc {
    Desc::new(
        name.into(),
        help.into(),
        unit.into(),
        labels.iter().map(ToString::to_string).collect(),
    )
}

#[allow(clippy::unnecessary_wraps)] // the clock's signature: it may fail (Python's time.time)
fn now() -> Result<f64> {
    Ok(NOW)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render(reg: &Registry, format: &Format) -> String {
    String::from_utf8(reg.render(format, None).unwrap()).unwrap()
}

/// The registry of the Python differential tests' reference scenario.
fn reference_registry() -> Registry {
    let reg = Registry::new();
    let c = Family::<CounterValue>::new(
        desc("requests", "Total requests.", "", &["method"]),
        (),
        NOW,
    )
    .unwrap();
    c.child(&["get"], now).unwrap().value.inc(1.0).unwrap();
    let post = c.child(&["post"], now).unwrap();
    post.value.inc(2.5).unwrap();
    post.value
        .set_exemplar(metric::exemplar(pairs(&[("trace_id", "abc")]), 2.5, NOW));
    let names = ["requests", "requests_total", "requests_created"];
    reg.add(1, Arc::new(c), names.map(String::from).to_vec(), false);

    let g = Family::<GaugeValue>::new(
        desc("temp_celsius", "Temp \"x\" \\ \n", "celsius", &["loc"]),
        MultiprocessMode::All,
        NOW,
    )
    .unwrap();
    g.child(&["a\\b\"c\nd"], now)
        .unwrap()
        .value
        .set(MultiprocessMode::All, 1e-5, now)
        .unwrap();
    g.child(&["big"], now)
        .unwrap()
        .value
        .set(MultiprocessMode::All, 1e21, now)
        .unwrap();
    reg.add(2, Arc::new(g), vec!["temp_celsius".into()], false);

    let h = Family::<HistogramValue>::new(
        desc("size_bytes", "Size", "", &["m"]),
        Buckets::new(vec![1.0, 10.0, 1e6]).unwrap(),
        NOW,
    )
    .unwrap();
    let x = h.child(&["x"], now).unwrap();
    let idx = h.config.index(5.0);
    x.value.observe(idx, 5.0).unwrap();
    x.value.set_exemplar(
        idx.unwrap(),
        metric::exemplar(pairs(&[("t", "1")]), 5.0, NOW),
    );
    x.value.observe(h.config.index(2e6), 2e6).unwrap();
    reg.add(3, Arc::new(h), vec!["size_bytes_bucket".into()], false);

    let s = Family::<SummaryValue>::new(desc("lat", "Latency", "", &[]), (), NOW).unwrap();
    s.solo().unwrap().value.observe(0.7).unwrap();
    let names = ["lat", "lat_sum", "lat_count", "lat_created"];
    reg.add(4, Arc::new(s), names.map(String::from).to_vec(), false);

    let i = Family::<InfoValue>::new(desc("build", "Build info", "", &[]), (), NOW).unwrap();
    i.solo()
        .unwrap()
        .value
        .set(pairs(&[("commit", "abc"), ("version", "1.2.3")]));
    reg.add(5, Arc::new(i), vec!["build_info".into()], false);

    let e = Family::<StateSetValue>::new(
        desc("state", "Task state", "", &[]),
        vec!["starting".to_string(), "running".to_string()].into_boxed_slice(),
        NOW,
    )
    .unwrap();
    e.solo().unwrap().value.set(1);
    reg.add(6, Arc::new(e), vec!["state".into()], false);
    reg
}

const REFERENCE_TEXT: &str = r#"# HELP requests_total Total requests.
# TYPE requests_total counter
requests_total{method="get"} 1.0
requests_total{method="post"} 2.5
# HELP requests_created Total requests.
# TYPE requests_created gauge
requests_created{method="get"} 123.456
requests_created{method="post"} 123.456
# HELP temp_celsius Temp "x" \\ \n
# TYPE temp_celsius gauge
temp_celsius{loc="a\\b\"c\nd"} 1e-05
temp_celsius{loc="big"} 1e+21
# HELP size_bytes Size
# TYPE size_bytes histogram
size_bytes_bucket{le="1.0",m="x"} 0.0
size_bytes_bucket{le="10.0",m="x"} 1.0
size_bytes_bucket{le="1e+06",m="x"} 1.0
size_bytes_bucket{le="+Inf",m="x"} 2.0
size_bytes_count{m="x"} 2.0
size_bytes_sum{m="x"} 2.000005e+06
# HELP size_bytes_created Size
# TYPE size_bytes_created gauge
size_bytes_created{m="x"} 123.456
# HELP lat Latency
# TYPE lat summary
lat_count 1.0
lat_sum 0.7
# HELP lat_created Latency
# TYPE lat_created gauge
lat_created 123.456
# HELP build_info Build info
# TYPE build_info gauge
build_info{commit="abc",version="1.2.3"} 1.0
# HELP state Task state
# TYPE state gauge
state{state="starting"} 0.0
state{state="running"} 1.0
"#;

const REFERENCE_OM: &str = r#"# HELP requests Total requests.
# TYPE requests counter
requests_total{method="get"} 1.0
requests_created{method="get"} 123.456
requests_total{method="post"} 2.5 # {trace_id="abc"} 2.5 123.456
requests_created{method="post"} 123.456
# HELP temp_celsius Temp \"x\" \\ \n
# TYPE temp_celsius gauge
# UNIT temp_celsius celsius
temp_celsius{loc="a\\b\"c\nd"} 1e-05
temp_celsius{loc="big"} 1e+21
# HELP size_bytes Size
# TYPE size_bytes histogram
size_bytes_bucket{le="1.0",m="x"} 0.0
size_bytes_bucket{le="10.0",m="x"} 1.0 # {t="1"} 5.0 123.456
size_bytes_bucket{le="1e+06",m="x"} 1.0
size_bytes_bucket{le="+Inf",m="x"} 2.0
size_bytes_count{m="x"} 2.0
size_bytes_sum{m="x"} 2.000005e+06
size_bytes_created{m="x"} 123.456
# HELP lat Latency
# TYPE lat summary
lat_count 1.0
lat_sum 0.7
lat_created 123.456
# HELP build Build info
# TYPE build info
build_info{commit="abc",version="1.2.3"} 1.0
# HELP state Task state
# TYPE state stateset
state{state="starting"} 0.0
state{state="running"} 1.0
# EOF
"#;

#[test]
fn text_encoder_matches_prometheus_client() {
    assert_eq!(render(&reference_registry(), &TEXT), REFERENCE_TEXT);
}

#[test]
fn openmetrics_encoder_matches_prometheus_client() {
    assert_eq!(render(&reference_registry(), &OM), REFERENCE_OM);
}

#[test]
fn registry_remove_and_target_info() {
    let reg = reference_registry();
    for id in 2..=6 {
        assert!(reg.remove(id));
    }
    assert!(!reg.remove(6));
    reg.set_target_info(Some(pairs(&[("service", "api")])));
    let text = render(&reg, &TEXT);
    assert!(text.starts_with(
        "# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{service=\"api\"} 1.0\n# HELP requests_total"
    ));
    let om = render(&reg, &OM);
    assert!(om.starts_with(
        "# HELP target Target metadata\n# TYPE target info\ntarget_info{service=\"api\"} 1.0\n"
    ));
    reg.set_target_info(None);
    assert!(render(&reg, &TEXT).starts_with("# HELP requests_total"));
}

#[test]
fn restricted_render_keeps_only_named_samples() {
    let reg = reference_registry();
    let names = ["requests_created".to_string(), "lat_sum".to_string()];
    let text = String::from_utf8(reg.render(&TEXT, Some(&names)).unwrap()).unwrap();
    // As prometheus_client: the counter family keeps its (now empty) header in text format.
    assert_eq!(
        text,
        "# HELP requests_total Total requests.\n# TYPE requests_total counter\n\
         # HELP requests_created Total requests.\n# TYPE requests_created gauge\n\
         requests_created{method=\"get\"} 123.456\nrequests_created{method=\"post\"} 123.456\n\
         # HELP lat Latency\n# TYPE lat summary\nlat_sum 0.7\n"
    );
    let none = reg.render(&OM, Some(&["nope".to_string()])).unwrap();
    assert_eq!(none, b"# EOF\n");
}

#[test]
fn children_keep_creation_order_and_remove_clear() {
    let c = Family::<CounterValue>::new(desc("c", "h", "", &["b", "a"]), (), NOW).unwrap();
    for v in ["z", "a", "m"] {
        c.child(&[v, "1"], now).unwrap().value.inc(1.0).unwrap();
    }
    assert_eq!(c.len(), 3);
    let same = c
        .child(&["a", "1"], || -> Result<f64> {
            panic!("an existing child is not re-created")
        })
        .unwrap();
    same.value.inc(1.0).unwrap();
    assert!(c.remove(&["z", "1"]));
    assert!(!c.remove(&["z", "1"]));
    c.child(&["z", "1"], now).unwrap();
    let text =
        String::from_utf8(encode_families(&TEXT, &[&c as &dyn FamilySource]).unwrap()).unwrap();
    let totals: Vec<&str> = text.lines().filter(|l| l.starts_with("c_total")).collect();
    assert_eq!(
        totals,
        [
            r#"c_total{a="1",b="a"} 2.0"#,
            r#"c_total{a="1",b="m"} 1.0"#,
            r#"c_total{a="1",b="z"} 0.0"#
        ]
    );
    c.remove_matching(&[(0, "m".to_string())]);
    assert_eq!(c.len(), 2);
    c.clear();
    assert!(c.is_empty());
}

#[test]
fn buckets_are_validated_like_prometheus_client() {
    assert!(Buckets::new(vec![2.0, 1.0]).is_err());
    assert!(Buckets::new(vec![f64::INFINITY]).is_err());
    assert!(Buckets::new(vec![]).is_err());
    let b = Buckets::new(vec![-1.0, 0.5]).unwrap();
    assert_eq!(&*b.le, ["-1.0", "0.5", "+Inf"]);
    assert_eq!(b.index(-5.0), Some(0));
    assert_eq!(b.index(0.5), Some(1)); // bounds are inclusive
    assert_eq!(b.index(1e300), Some(2));
    assert_eq!(b.index(f64::NAN), None);
    let one = Buckets::new(vec![1.0, f64::INFINITY]).unwrap();
    assert_eq!(one.bounds.len(), 2);
}

#[test]
fn negative_buckets_have_no_sum() {
    let h = Family::<HistogramValue>::new(
        desc("h", "h", "", &[]),
        Buckets::new(vec![-1.0, 1.0]).unwrap(),
        NOW,
    )
    .unwrap();
    h.solo()
        .unwrap()
        .value
        .observe(h.config.index(-3.0), -3.0)
        .unwrap();
    let text =
        String::from_utf8(encode_families(&TEXT, &[&h as &dyn FamilySource]).unwrap()).unwrap();
    assert!(text.contains("h_count 1.0\n"));
    assert!(!text.contains("h_sum"));
}

#[test]
fn concurrent_updates_are_exact() {
    let c = Arc::new(Family::<CounterValue>::new(desc("c", "h", "", &["k"]), (), NOW).unwrap());
    let h = Arc::new(
        Family::<HistogramValue>::new(
            desc("h", "h", "", &[]),
            Buckets::new(vec![1.0, 2.0]).unwrap(),
            NOW,
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, h) = (c.clone(), h.clone());
            thread::spawn(move || {
                for i in 0..50_000u32 {
                    c.child(&["shared"], now).unwrap().value.inc(1.0).unwrap();
                    let v = f64::from(i % 3);
                    h.solo()
                        .unwrap()
                        .value
                        .observe(h.config.index(v), v)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        c.child(&["shared"], now).unwrap().value.get().unwrap(),
        200_000.0
    );
    let hv = &h.solo().unwrap().value;
    assert_eq!(hv.counts().unwrap().iter().sum::<f64>(), 200_000.0);
    let per_thread: u32 = (0..50_000u32).map(|i| i % 3).sum();
    assert_eq!(hv.sum().unwrap(), f64::from(4 * per_thread));
    assert_eq!(
        hv.counts().unwrap(),
        [f64::from(4 * (16_667 + 16_667)), f64::from(4 * 16_666), 0.0]
    ); // per bucket: 0 and 1 <= 1
}

#[test]
fn owned_families_with_timestamps() {
    let mut s = OwnedSample::new("g", pairs(&[("k", "v")]), 3.0);
    s.timestamp = Some(Timestamp::Float(1600000000.123));
    let mut t = OwnedSample::new("g", pairs(&[("k", "w")]), 4.0);
    t.timestamp = Some(Timestamp::Exact {
        text: "1600000000.000000005".into(),
        millis: 1600000000000,
    });
    let fam = OwnedFamily {
        name: "g".into(),
        help: "With timestamp".into(),
        type_name: "gauge".into(),
        unit: String::new(),
        samples: vec![s, t],
    };
    let text =
        String::from_utf8(encode_families(&TEXT, &[&fam as &dyn FamilySource]).unwrap()).unwrap();
    assert_eq!(
        text,
        "# HELP g With timestamp\n# TYPE g gauge\ng{k=\"v\"} 3.0 1600000000123\ng{k=\"w\"} 4.0 1600000000000\n"
    );
    let om =
        String::from_utf8(encode_families(&OM, &[&fam as &dyn FamilySource]).unwrap()).unwrap();
    assert!(om.contains("g{k=\"v\"} 3.0 1600000000.123\ng{k=\"w\"} 4.0 1600000000.000000005\n"));
}

#[test]
fn escaping_schemes_on_utf8_names() {
    let g = Family::<GaugeValue>::new(
        desc("my.gauge", "h", "", &["lab.el"]),
        MultiprocessMode::default(),
        NOW,
    )
    .unwrap();
    g.child(&["v"], now)
        .unwrap()
        .value
        .set(MultiprocessMode::All, 1.0, now)
        .unwrap();
    let fams = [&g as &dyn FamilySource];
    let line = |escaping| {
        let out = encode_families(&Format::Text { escaping }, &fams).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .nth(2)
            .unwrap()
            .to_string()
    };
    assert_eq!(line(Escaping::Underscores), r#"my_gauge{lab_el="v"} 1.0"#);
    assert_eq!(
        line(Escaping::AllowUtf8),
        r#"{"my.gauge","lab.el"="v"} 1.0"#
    );
    assert_eq!(line(Escaping::Dots), r#"my_dot_gauge{lab_dot_el="v"} 1.0"#);
    assert_eq!(
        line(Escaping::Values),
        r#"U__my_2e_gauge{U__lab_2e_el="v"} 1.0"#
    );
    assert_eq!(Escaping::from_token("bogus"), Escaping::Underscores);
    assert_eq!(Escaping::parse("bogus"), None);
    for e in [
        Escaping::AllowUtf8,
        Escaping::Underscores,
        Escaping::Dots,
        Escaping::Values,
    ] {
        assert_eq!(Escaping::parse(e.as_str()), Some(e));
    }
}

#[test]
fn go_float_formatting() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (1e-5, "1e-05"),
        (999999.0, "999999.0"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (-1234567.0, "-1234567.0"),
        (1e21, "1e+21"),
        (-0.0, "-0.0"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (0.1 + 0.2, "0.30000000000000004"),
        // Exact ties between two shortest candidates: repr takes the even digit, unless
        // (just below a power of two) only the upper one reads back.
        (512.8047485351562, "512.8047485351562"),
        (5.960464477539063e-08, "5.960464477539063e-08"),
    ];
    for (v, want) in cases {
        assert_eq!(fmt::go_float(*v), *want, "{v:?}");
    }
    assert_eq!(fmt::py_repr(1e16), "1e+16");
    assert_eq!(fmt::py_repr(123.456), "123.456");
    assert_eq!(fmt::py_repr(f64::NAN), "nan");
    assert_eq!(fmt::py_repr(-f64::INFINITY), "-inf");
}

#[test]
fn names_and_validation() {
    let _guard = FLAGS.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(
        validate::build_full_name("counter", "x_total", "ns", "sub", "").unwrap(),
        "ns_sub_x"
    );
    assert_eq!(
        validate::build_full_name("counter", "sent", "", "", "bytes").unwrap(),
        "sent_bytes"
    );
    assert_eq!(
        validate::build_full_name("gauge", "t_seconds", "", "", "seconds").unwrap(),
        "t_seconds"
    );
    assert!(validate::build_full_name("gauge", "", "", "", "").is_err());
    assert!(validate::validate_metric_name("a.b").is_ok());
    assert!(validate::validate_label_name("ü").is_ok());
    assert!(validate::validate_label_name("__x").is_err());
    assert!(validate::validate_label_names(&["le".into()], &["le"]).is_err());
    assert!(validate::validate_exemplar(&pairs(&[("a", &"x".repeat(127))])).is_ok());
    assert!(validate::validate_exemplar(&pairs(&[("a", &"x".repeat(128))])).is_err());
    validate::set_legacy_validation(true);
    let legacy = (
        validate::validate_metric_name("a.b").is_err(),
        validate::validate_label_name("ü").is_err(),
        validate::validate_metric_name("a:b_c").is_ok(),
    );
    validate::set_legacy_validation(false);
    assert_eq!(legacy, (true, true, true));
}

// ---------------------------------------------------------------------------------------
// The metric rules (prometheus_client's errors, raised by the core)

fn labelled(names: &[&str]) -> Handle<CounterValue> {
    Handle::new(Arc::new(
        Family::new(desc("c", "h", "", names), (), NOW).unwrap(),
    ))
}

#[test]
fn child_checks_the_number_of_label_values() {
    let fam = Family::<CounterValue>::new(desc("c", "h", "", &["a", "b"]), (), NOW).unwrap();
    for values in [&["x"][..], &["x", "y", "z"][..], &[][..]] {
        let err = fam
            .child(values, now)
            .err()
            .expect("a wrong count is refused");
        assert!(
            matches!(err, Error::LabelCount { expected: 2, got } if got == values.len()),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "Incorrect label count");
    }
    assert!(fam.is_empty(), "a refused call creates no child");
    // Rendering never sees a child of the wrong arity.
    fam.child(&["x", "y"], now).unwrap().value.inc(1.0).unwrap();
    let text =
        String::from_utf8(encode_families(&TEXT, &[&fam as &dyn FamilySource]).unwrap()).unwrap();
    assert!(text.contains("c_total{a=\"x\",b=\"y\"} 1.0\n"), "{text}");
    // An unlabelled family's only child, for no values.
    let solo = Family::<CounterValue>::new(desc("u", "h", "", &[]), (), NOW).unwrap();
    let child = solo.child::<&str, Error>(&[], now).unwrap();
    assert!(Arc::ptr_eq(&child, solo.solo().unwrap()));
    assert!(solo.child(&["x"], now).is_err());
}

#[test]
fn the_caller_error_type_passes_through_child() {
    #[derive(Debug, PartialEq)]
    enum Mine {
        Clock,
        Core(String),
    }
    impl From<Error> for Mine {
        fn from(e: Error) -> Mine {
            Mine::Core(e.to_string())
        }
    }
    let fam = Family::<CounterValue>::new(desc("c", "h", "", &["a"]), (), NOW).unwrap();
    assert_eq!(
        fam.child(&["x"], || Err(Mine::Clock)).err(),
        Some(Mine::Clock)
    );
    assert_eq!(
        fam.child(&["x", "y"], || Ok::<f64, Mine>(NOW)).err(),
        Some(Mine::Core("Incorrect label count".into()))
    );
}

#[test]
fn labels_rules() {
    let unlabelled = labelled(&[]);
    assert!(unlabelled.observable().is_ok());
    let err = unlabelled.labels(&["x"], now).err().unwrap();
    assert_eq!(
        err.to_string(),
        "No label names were set when constructing counter:c"
    );

    let parent = labelled(&["a", "b"]);
    let err = parent.observable().err().unwrap();
    assert!(matches!(err, Error::MissingLabelValues { kind: "counter" }));
    assert_eq!(err.to_string(), "counter metric is missing label values");
    assert!(parent.labels(&["1"], now).is_err());

    let child = parent.labels(&["x'y", "é\n\u{1}"], now).unwrap();
    assert!(child.is_child());
    assert_eq!(child.label_values(), ["x'y", "é\n\u{1}"]);
    child.observable().unwrap().value.inc(2.0).unwrap();
    let again = parent.labels(&["x'y", "é\n\u{1}"], now).unwrap();
    assert_eq!(again.observable().unwrap().value.get().unwrap(), 2.0);

    let err = child.labels(&["1", "2"], now).err().unwrap();
    assert!(matches!(err, Error::AlreadyLabelled { .. }));
    assert_eq!(
        err.to_string(),
        r#"counter:c already has labels set ({'a': "x'y", 'b': 'é\n\x01'}); can not chain calls to .labels()"#
    );
}

#[test]
fn labels_by_keyword_map_to_label_order() {
    let parent = labelled(&["a", "b"]);
    let kw = [("b", "2"), ("a", "1")];
    let lookup = |name: &str| {
        Ok::<_, Error>(
            kw.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string()),
        )
    };
    let child = parent.labels_by_name(kw.len(), lookup, now).unwrap();
    assert_eq!(child.label_values(), ["1", "2"]);
    // Too few, too many, or other names.
    for (count, names) in [
        (1, &[("a", "1")][..]),
        (3, &kw[..]),
        (2, &[("a", "1"), ("c", "2")][..]),
    ] {
        let err = parent
            .labels_by_name(
                count,
                |name| Ok::<_, Error>(names.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)),
                now,
            )
            .err()
            .unwrap();
        assert!(matches!(err, Error::IncorrectLabelNames));
        assert_eq!(err.to_string(), "Incorrect label names");
    }
    assert_eq!(parent.fam.len(), 1);
}

#[test]
fn remove_and_remove_by_labels() {
    let parent = labelled(&["a", "b"]);
    for (a, b) in [("x", "1"), ("x", "2"), ("y", "1")] {
        parent.labels(&[a, b], now).unwrap();
    }
    let err = parent.remove(&["x"]).err().unwrap();
    assert!(matches!(err, Error::RemoveLabelCount { expected: 2, .. }));
    assert_eq!(
        err.to_string(),
        "Incorrect label count (expected 2, got ('x',))"
    );
    parent.remove(&["y", "1"]).unwrap();
    parent.remove(&["nope", "1"]).unwrap();
    assert_eq!(parent.fam.len(), 2);

    let err = parent
        .remove_by_labels(&[("zz", "1"), ("a", "x"), ("yy", "2")])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        r#"Unknown label names: ["zz", "yy"]; expected ["a", "b"]"#
    );
    assert_eq!(parent.fam.len(), 2, "a refused call removes nothing");
    parent.remove_by_labels::<&str, &str>(&[]).unwrap();
    assert_eq!(parent.fam.len(), 2);
    parent.remove_by_labels(&[("b", "2")]).unwrap();
    let left: Vec<Vec<String>> = parent
        .fam
        .children()
        .iter()
        .map(|c| c.label_values().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(left, [["x", "1"]]);
    parent.remove_by_labels(&[("a", "x"), ("b", "1")]).unwrap();
    assert!(parent.fam.is_empty());

    let unlabelled = labelled(&[]);
    for err in [
        unlabelled.remove(&["x"]).err().unwrap(),
        unlabelled
            .remove_by_labels::<&str, &str>(&[])
            .err()
            .unwrap(),
    ] {
        assert!(matches!(err, Error::NoLabelNames { .. }), "{err:?}");
    }
    unlabelled.clear();
    assert_eq!(unlabelled.fam.len(), 1);
}

#[test]
fn counter_gauge_and_mode_rules() {
    assert!(CounterValue::check_increment(0.0).is_ok());
    assert!(CounterValue::check_increment(f64::NAN).is_ok());
    let err = CounterValue::check_increment(-1.0).err().unwrap();
    assert_eq!(
        err.to_string(),
        "Counters can only be incremented by non-negative amounts."
    );

    let names: Vec<&str> = MultiprocessMode::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "all",
            "liveall",
            "min",
            "livemin",
            "max",
            "livemax",
            "sum",
            "livesum",
            "mostrecent",
            "livemostrecent"
        ]
    );
    let live: Vec<&str> = MultiprocessMode::ALL
        .iter()
        .filter(|m| m.is_live())
        .map(|m| m.name())
        .collect();
    assert_eq!(
        live,
        ["liveall", "livemin", "livemax", "livesum", "livemostrecent"]
    );
    for m in MultiprocessMode::ALL {
        assert_eq!(MultiprocessMode::parse(m.name()).unwrap(), m);
        assert_eq!(m.is_most_recent(), m.name().ends_with("mostrecent"));
        assert_eq!(m.check_add("inc").is_err(), m.is_most_recent());
    }
    let err = MultiprocessMode::LiveMostRecent
        .check_add("dec")
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "dec must not be used with the mostrecent mode"
    );
    let err = MultiprocessMode::parse("bogus").err().unwrap();
    assert_eq!(err.to_string(), "Invalid multiprocess mode: bogus");
    assert_eq!(MultiprocessMode::default(), MultiprocessMode::All);
}

#[test]
fn bucket_rules() {
    let d = Buckets::default();
    assert_eq!(&*d.bounds, &DEFAULT_BUCKETS[..]);
    assert_eq!(d.le[0], "0.005");
    assert_eq!(d.le[14], "+Inf");
    let b = Buckets::new(vec![1.0, 2.0]).unwrap();
    assert_eq!(&*b.bounds, &[1.0, 2.0, f64::INFINITY]);
    for bad in [
        vec![2.0, 1.0],
        vec![1.0, f64::NAN],
        vec![1.0, f64::INFINITY, 5.0],
    ] {
        let err = Buckets::new(bad).err().unwrap();
        assert!(matches!(err, Error::BucketsNotSorted));
        assert_eq!(err.to_string(), "Buckets not in sorted order");
    }
    for few in [vec![], vec![f64::INFINITY]] {
        let err = Buckets::new(few).err().unwrap();
        assert_eq!(err.to_string(), "Must have at least two buckets");
    }
}

#[test]
fn info_rules() {
    let names = vec!["x".to_string()];
    let shown = || Ok::<_, Error>("{'x': 'b'}".to_string());
    assert!(InfoValue::check_keys(&names, ["y", "z"], shown).is_ok());
    let err = InfoValue::check_keys(&names, ["y", "x"], shown)
        .err()
        .unwrap();
    assert!(matches!(err, Error::InfoOverlap { .. }));
    assert_eq!(
        err.to_string(),
        r#"Overlapping labels for Info metric, metric: ["x"] child: {'x': 'b'}"#
    );
    // The value is shown only when the check fails.
    assert!(
        InfoValue::check_keys(&names, ["y"], || -> Result<String> { panic!("not shown") }).is_ok()
    );
    assert_eq!(
        Error::InfoValueNone.to_string(),
        "Label value cannot be None"
    );
}

#[test]
fn enum_rules() {
    let labels = vec!["e".to_string()];
    let err = StateSetValue::check_name("e", &labels).err().unwrap();
    assert_eq!(err.to_string(), "Overlapping labels for Enum metric: e");
    assert!(StateSetValue::check_name("f", &labels).is_ok());
    let err = StateSetValue::states("e", vec![]).err().unwrap();
    assert_eq!(err.to_string(), "No states provided for Enum metric: e");
    let states = StateSetValue::states("e", vec!["a".into(), "b".into()]).unwrap();
    assert_eq!(StateSetValue::index(&states, "b").unwrap(), 1);
    let err = StateSetValue::index(&states, "z'z").err().unwrap();
    assert_eq!(err.to_string(), r#""z'z" is not in list"#);
    let err = StateSetValue::index(&states, "\u{7f}ä\u{200b}")
        .err()
        .unwrap();
    assert_eq!(err.to_string(), r"'\x7fä\u200b' is not in list");
}

#[test]
fn name_rule_messages() {
    let _guard = FLAGS.lock().unwrap_or_else(PoisonError::into_inner);
    let msg = |r: Result<()>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        validate::build_full_name("gauge", "", "", "", "")
            .err()
            .unwrap()
            .to_string(),
        "Metric name should not be empty"
    );
    assert_eq!(
        validate::build_full_name("info", "i", "", "", "s")
            .err()
            .unwrap()
            .to_string(),
        "Metric name is of a type that cannot have a unit: i_s"
    );
    assert_eq!(
        msg(validate::validate_metric_name("")),
        "metric name cannot be empty"
    );
    assert_eq!(
        msg(validate::validate_label_name("__a")),
        "Reserved label metric name: __a"
    );
    assert_eq!(
        msg(validate::validate_label_names(&["le".into()], &["le"])),
        "Reserved label name for this metric type: le"
    );
    validate::set_legacy_validation(true);
    let legacy = (
        msg(validate::validate_metric_name("a.b")),
        msg(validate::validate_label_name("a.b")),
    );
    validate::set_legacy_validation(false);
    assert_eq!(legacy.0, "invalid metric name a.b");
    assert_eq!(legacy.1, "Invalid label metric name: a.b");
}

#[test]
fn format_from_arguments() {
    assert_eq!(Format::from_args(false, "underscores", 1).unwrap(), TEXT);
    assert_eq!(Format::from_args(true, "underscores", 1).unwrap(), OM);
    let err = Format::from_args(true, "bogus", 1).err().unwrap();
    assert!(matches!(&err, Error::UnknownEscaping(name) if name == "bogus"));
    assert_eq!(
        err.to_string(),
        r#"unknown escaping scheme "bogus": expected 'allow-utf-8', 'underscores', 'dots' or 'values'"#
    );
}

#[test]
fn text_moves_created_gcount_gsum_after_the_other_samples() {
    let sample = |name: &str, v: f64| OwnedSample::new(name, pairs(&[("k", "v")]), v);
    let fam = OwnedFamily {
        name: "g".into(),
        help: "h".into(),
        type_name: "gaugehistogram".into(),
        unit: String::new(),
        samples: vec![
            sample("g_gsum", 3.0),
            sample("g_created", 1.0),
            sample("g_bucket", 2.0),
            sample("g_gcount", 2.0),
            sample("g_created", 5.0),
        ],
    };
    let text =
        String::from_utf8(encode_families(&TEXT, &[&fam as &dyn FamilySource]).unwrap()).unwrap();
    assert_eq!(
        text,
        "# HELP g h\n# TYPE g histogram\ng_bucket{k=\"v\"} 2.0\n\
         # HELP g_created h\n# TYPE g_created gauge\ng_created{k=\"v\"} 1.0\ng_created{k=\"v\"} 5.0\n\
         # HELP g_gcount h\n# TYPE g_gcount gauge\ng_gcount{k=\"v\"} 2.0\n\
         # HELP g_gsum h\n# TYPE g_gsum gauge\ng_gsum{k=\"v\"} 3.0\n"
    );
    // A sample without a value fails where prometheus_client fails: the first one in
    // sample order, even when it is one the text format moves to the end.
    let mut bad = fam.clone();
    bad.samples[1].value = None;
    bad.samples[2].value = None;
    let err = encode_families(&TEXT, &[&bad as &dyn FamilySource]).unwrap_err();
    assert!(
        matches!(&err, Error::SampleWithoutValue { sample } if sample == "g_created"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "sample g_created has no value: float() argument must be a string or a real number, \
         not 'NoneType'"
    );
}

#[test]
fn an_exemplar_outside_counters_and_buckets_is_refused() {
    let mut sample = OwnedSample::new("g", Vec::new(), 1.0);
    sample.exemplar = Some(metric::exemplar(pairs(&[("t", "1")]), 1.0, NOW));
    let fam = OwnedFamily {
        name: "g".into(),
        help: "h".into(),
        type_name: "gauge".into(),
        unit: String::new(),
        samples: vec![sample],
    };
    let err = encode_families(&OM, &[&fam as &dyn FamilySource]).unwrap_err();
    assert!(
        matches!(&err, Error::ExemplarNotAllowed { family } if family == "g"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Metric g has exemplars, but is not a histogram bucket or counter"
    );
}
