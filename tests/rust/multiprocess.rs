//! Tests of the multiprocess core (src/core/multiprocess): the `.db` layout, the JSON
//! keys, the thread-safe writer, the merge and `mark_process_dead`. Expected bytes and
//! texts are what prometheus_client 0.26 writes or renders for the same input (checked
//! against it with Python when they were written; `tests/python/test_mmap_compat.py` checks
//! the same against a live prometheus_client).
//!
//! Run with `cargo test --no-default-features --test multiprocess`.

// Floats are compared exactly: every expected value is a small sum of integers and
// halves, exact in f64, and the merge must give exactly prometheus_client's value.
#![allow(clippy::float_cmp)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use fastprom::core::error::Error;
use fastprom::core::format::{Escaping, Format};
use fastprom::core::model::{FamilySource, OwnedFamily};
use fastprom::core::multiprocess::layout::{read_used, INITIAL_MMAP_SIZE};
use fastprom::core::multiprocess::{
    collect, decode_key, encode_key, file_name, list_db_files, mark_process_dead, merge,
    parse_file_name, read_all_values_from_file, Corruption, MmapDict, MmapError, WarningKind,
};
use fastprom::core::registry::encode_families;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fastprom-mp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TEXT: Format = Format::Text {
    escaping: Escaping::Underscores,
};
const OM: Format = Format::OpenMetrics {
    escaping: Escaping::Underscores,
    major: 1,
};

fn render(format: &Format, families: &[OwnedFamily]) -> String {
    let fams: Vec<&dyn FamilySource> = families.iter().map(|f| f as &dyn FamilySource).collect();
    String::from_utf8(encode_families(format, &fams).unwrap()).unwrap()
}

fn key(metric: &str, sample: &str, labels: &[(&str, &str)], help: &str) -> String {
    encode_key(metric, sample, labels, help)
}

// ---------------------------------------------------------------- keys

#[test]
fn keys_are_pythons_json_dumps() {
    // (metric, sample, labels, help) => json.dumps([...], sort_keys=True), from Python.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        ("c", "c_total", &[], "", r#"["c", "c_total", {}, ""]"#),
        (
            "c",
            "c_total",
            &[("b", "2"), ("a", "1")],
            "help",
            r#"["c", "c_total", {"a": "1", "b": "2"}, "help"]"#,
        ),
        (
            "x",
            "x",
            &[("l", "q\"b\\s/")],
            "new\nline\rtab\tbs\u{8}ff\u{c}",
            r#"["x", "x", {"l": "q\"b\\s/"}, "new\nline\rtab\tbs\bff\f"]"#,
        ),
        (
            "x",
            "x",
            &[("l", "\u{0}\u{1}\u{1f}\u{7f}\u{80}")],
            "é ü ÿ",
            r#"["x", "x", {"l": "\u0000\u0001\u001f\u007f\u0080"}, "\u00e9 \u00fc \u00ff"]"#,
        ),
        (
            "x",
            "x",
            &[("ключ", "значение")],
            "中文",
            r#"["x", "x", {"\u043a\u043b\u044e\u0447": "\u0437\u043d\u0430\u0447\u0435\u043d\u0438\u0435"}, "\u4e2d\u6587"]"#,
        ),
        (
            "x",
            "x",
            &[("e", "😀 𝄞")],
            "\u{2028}\u{ffff}",
            r#"["x", "x", {"e": "\ud83d\ude00 \ud834\udd1e"}, "\u2028\uffff"]"#,
        ),
        (
            "x",
            "x",
            &[("Z", "1"), ("a", "2"), ("_", "3"), ("é", "4")],
            " ~",
            r#"["x", "x", {"Z": "1", "_": "3", "a": "2", "\u00e9": "4"}, " ~"]"#,
        ),
    ];
    for (metric, sample, labels, help, want) in cases {
        let got = key(metric, sample, labels, help);
        assert_eq!(&got, want);
        let back = decode_key(&got).unwrap();
        assert_eq!(back.metric_name, *metric);
        assert_eq!(back.sample_name, *sample);
        assert_eq!(back.help, *help);
        let mut sorted: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        sorted.sort();
        assert_eq!(back.labels, sorted);
    }
}

#[test]
fn key_label_given_twice_keeps_the_last_value() {
    assert_eq!(
        key("m", "m", &[("a", "1"), ("b", "x"), ("a", "2")], "h"),
        r#"["m", "m", {"a": "2", "b": "x"}, "h"]"#
    );
    let k = decode_key(r#"["m", "m", {"b": "1", "a": "x", "b": "2"}, "h"]"#).unwrap();
    assert_eq!(
        k.labels,
        vec![("a".into(), "x".into()), ("b".into(), "2".into())]
    );
}

#[test]
fn decoder_accepts_any_json_layout_of_the_same_list() {
    let k = decode_key(" [\"m\",\"m_total\",{ \"a\" :\"\\u00E9\\/\" } ,\n\"h\\\"\"]\t").unwrap();
    assert_eq!(k.metric_name, "m");
    assert_eq!(k.sample_name, "m_total");
    assert_eq!(k.labels, vec![("a".into(), "é/".into())]);
    assert_eq!(k.help, "h\"");
    // Raw (not escaped) non-ASCII, as another writer might produce.
    assert_eq!(decode_key(r#"["m", "m", {}, "😀"]"#).unwrap().help, "😀");
}

#[test]
fn decoder_rejects_what_is_not_a_key() {
    for bad in [
        "",
        "[]",
        r#"["m", "m", {}]"#,
        r#"["m", "m", {}, "h", "x"]"#,
        r#"["m", "m", {"a": 1}, "h"]"#,
        r#"["m", "m", [], "h"]"#,
        r#"["m", 1, {}, "h"]"#,
        r#"["m", "m", {}, "h"] x"#,
        r#"["m", "m", {}, "h"#,
        "[\"m\", \"m\", {}, \"a\u{1}\"]",
        r#"["m", "m", {}, "\x"]"#,
        r#"["m", "m", {}, "\u12"]"#,
        r#"["m", "m", {}, "\ud83d"]"#,
        r#"["m", "m", {}, "\ude00"]"#,
        r#"["m", "m", {}, "\ud83d\u0041"]"#,
        r#"["m", "m", {"a" "b"}, "h"]"#,
        r#"["m", "m", {"a": "b",}, "h"]"#,
    ] {
        assert!(decode_key(bad).is_err(), "{bad:?} decoded");
    }
}

// ---------------------------------------------------------------- files and names

#[test]
fn file_names() {
    assert_eq!(file_name("counter", "", "12"), "counter_12.db");
    assert_eq!(file_name("gauge", "livesum", "12"), "gauge_livesum_12.db");
    let f = parse_file_name("gauge_livemostrecent_4321.db").unwrap();
    assert_eq!(f.typ, "gauge");
    assert_eq!(
        f.gauge,
        Some(("livemostrecent".to_string(), "4321".to_string()))
    );
    assert_eq!(parse_file_name("histogram_7.db").unwrap().gauge, None);
    // As prometheus_client: the pid is the third part minus three characters.
    assert_eq!(
        parse_file_name("gauge_all_a_b.db").unwrap().gauge,
        Some(("all".to_string(), String::new()))
    );
    assert!(parse_file_name("foo.db").is_err());
    assert!(parse_file_name("gauge_12.db").is_err());
    assert!(parse_file_name("counter.db").is_err());
}

// ---------------------------------------------------------------- the writer

/// What prometheus_client's `MmapedDict` writes for
/// `write_value(mmap_key("c", "c_total", ["a"], ["x"], "h"), 1.5, 0.0)` then
/// `write_value(mmap_key("g", "g", [], [], "gauge"), -2.0, 1700000000.25)`: the first
/// `used` (112) bytes of a 65 536-byte file of zeros.
const PYTHON_FILE: &str = "7000000000000000210000005b2263222c2022635f746f74616c222c207b2261223a202278227d2c202268225d202020000000000000f83f0000000000000000170000005b2267222c202267222c207b7d2c20226761756765225d202020202000000000000000c000001040fc54d941";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn python_file() -> Vec<u8> {
    let mut bytes = unhex(PYTHON_FILE);
    bytes.resize(usize::try_from(INITIAL_MMAP_SIZE).unwrap(), 0);
    bytes
}

#[test]
fn writer_writes_prometheus_client_bytes() {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    let d = MmapDict::open(&path).unwrap();
    d.write_value(&key("c", "c_total", &[("a", "x")], "h"), 1.5, 0.0)
        .unwrap();
    d.write_value(&key("g", "g", &[], "gauge"), -2.0, 1_700_000_000.25)
        .unwrap();
    assert_eq!(d.used(), 112);
    assert_eq!(d.capacity(), INITIAL_MMAP_SIZE);
    drop(d);
    assert_eq!(std::fs::read(&path).unwrap(), python_file());
}

#[test]
fn reads_a_file_written_by_prometheus_client() {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    std::fs::write(&path, python_file()).unwrap();
    let values = read_all_values_from_file(&path).unwrap();
    assert_eq!(
        values,
        vec![
            (r#"["c", "c_total", {"a": "x"}, "h"]"#.to_string(), 1.5, 0.0),
            (
                r#"["g", "g", {}, "gauge"]"#.to_string(),
                -2.0,
                1_700_000_000.25
            ),
        ]
    );
    // Opened for writing, the entries are updated in place, not appended.
    let d = MmapDict::open(&path).unwrap();
    assert_eq!(
        d.read_value(r#"["c", "c_total", {"a": "x"}, "h"]"#)
            .unwrap(),
        (1.5, 0.0)
    );
    d.slot(r#"["c", "c_total", {"a": "x"}, "h"]"#)
        .unwrap()
        .inc(2.0);
    assert_eq!(d.used(), 112);
    drop(d);
    let values = read_all_values_from_file(&path).unwrap();
    assert_eq!(values[0].1, 3.5);
    assert_eq!(values.len(), 2);
}

#[test]
fn round_trip_and_reopen() {
    let dir = TempDir::new();
    let path = dir.path("gauge_all_1.db");
    let keys: Vec<String> = (0..50)
        .map(|i| key("m", "m", &[("i", &i.to_string())], "help"))
        .collect();
    {
        let d = MmapDict::open(&path).unwrap();
        for (i, k) in keys.iter().enumerate() {
            d.write_value(k, i as f64 * 0.5, i as f64).unwrap();
        }
        assert_eq!(d.read_all_values().unwrap().len(), 50);
    }
    let d = MmapDict::open(&path).unwrap();
    let all = d.read_all_values().unwrap();
    assert_eq!(all, read_all_values_from_file(&path).unwrap());
    for (i, (k, v, t)) in all.iter().enumerate() {
        assert_eq!(k, &keys[i]);
        assert_eq!((*v, *t), (i as f64 * 0.5, i as f64));
    }
    let slot = d.slot(&keys[3]).unwrap();
    assert_eq!(slot.get(), (1.5, 3.0));
    assert_eq!(slot.inc(1.0), 2.5);
    assert_eq!(
        slot.get(),
        (2.5, 0.0),
        "inc resets the timestamp as prometheus_client"
    );
    slot.set(-1.0, 9.0);
    assert_eq!(d.read_value(&keys[3]).unwrap(), (-1.0, 9.0));
}

#[test]
fn grows_by_doubling_and_old_slots_keep_working() {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    let d = MmapDict::open(&path).unwrap();
    let first = d.slot(&key("first", "first_total", &[], "")).unwrap();
    let long = "x".repeat(200);
    let mut n = 0;
    while d.capacity() < 4 * INITIAL_MMAP_SIZE {
        d.write_value(
            &key("m", "m", &[("i", &format!("{n}{long}"))], ""),
            n as f64,
            0.0,
        )
        .unwrap();
        n += 1;
    }
    assert_eq!(d.capacity(), 4 * INITIAL_MMAP_SIZE);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        4 * INITIAL_MMAP_SIZE
    );
    // A slot from before both growths writes into the same file.
    first.inc(5.0);
    let values = read_all_values_from_file(&path).unwrap();
    assert_eq!(values.len(), n + 1);
    assert_eq!(values[0].1, 5.0);
    assert_eq!(values[n].1, (n - 1) as f64);
    let used = d.used();
    drop(d);
    let mut buf = Vec::new();
    assert_eq!(read_used(&path, &mut buf).unwrap(), used);
}

#[test]
fn entry_too_big_for_the_initial_size_grows_at_once() {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    let d = MmapDict::open(&path).unwrap();
    let huge = "y".repeat(300_000);
    d.write_value(&key("m", "m", &[("a", &huge)], ""), 1.0, 0.0)
        .unwrap();
    assert_eq!(d.capacity(), 8 * INITIAL_MMAP_SIZE);
    assert_eq!(read_all_values_from_file(&path).unwrap()[0].1, 1.0);
}

#[test]
fn threads_share_a_writer_without_losing_updates() {
    let dir = TempDir::new();
    let d = Arc::new(MmapDict::open(dir.path("counter_1.db")).unwrap());
    let shared = key("shared", "shared_total", &[], "");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let d = d.clone();
            let shared = shared.clone();
            thread::spawn(move || {
                let slot = d.slot(&shared).unwrap();
                for i in 0..5_000 {
                    slot.inc(1.0);
                    // New keys meanwhile: the file grows under the other threads' feet.
                    if i % 10 == 0 {
                        let k = key(
                            "k",
                            "k_total",
                            &[("t", &format!("{t}-{i}-{}", "z".repeat(64)))],
                            "",
                        );
                        d.slot(&k).unwrap().inc(1.0);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(d.capacity() > INITIAL_MMAP_SIZE);
    let values = read_all_values_from_file(d.path()).unwrap();
    assert_eq!(values.len(), 1 + 8 * 500);
    let total: f64 = values.iter().find(|(k, _, _)| *k == shared).unwrap().1;
    assert_eq!(total, 40_000.0);
    assert!(values.iter().all(|(k, v, _)| *k == shared || *v == 1.0));
}

#[test]
fn missing_directory_is_an_open_error_naming_the_file() {
    let dir = TempDir::new();
    let path = dir.path("nope/counter_1.db");
    match MmapDict::open(&path) {
        Err(MmapError::Open { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{:?}", other.err()),
    }
    let err = MmapDict::open(&path).err().unwrap().to_string();
    assert!(err.contains("nope/counter_1.db"), "{err}");
    // The core's error carries it whole: same message, the system's error as its source.
    let core_err = Error::from(MmapDict::open(&path).err().unwrap());
    assert!(
        matches!(&core_err, Error::Multiprocess(MmapError::Open { path: p, .. }) if *p == path),
        "{core_err:?}"
    );
    assert_eq!(core_err.to_string(), err);
    let source = std::error::Error::source(&core_err).unwrap();
    assert_eq!(source.to_string(), err);
}

#[test]
fn full_disk_is_a_write_error() {
    // Writes to /dev/full fail with ENOSPC: writing the new "file"'s header is what fails.
    if !Path::new("/dev/full").exists() {
        return;
    }
    match MmapDict::open("/dev/full") {
        Err(MmapError::Write {
            offset,
            len,
            source,
            ..
        }) => {
            assert_eq!((offset, len), (0, 8));
            assert_eq!(source.raw_os_error(), Some(28)); // ENOSPC
        }
        Err(MmapError::Open { .. }) => {} // /dev/full not writable here
        other => panic!("{:?}", other.err()),
    }
}

// ---------------------------------------------------------------- corrupt files

fn corruption(bytes: &[u8]) -> Corruption {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    std::fs::write(&path, bytes).unwrap();
    match read_all_values_from_file(&path) {
        Err(MmapError::Corrupt { path: p, kind }) => {
            assert_eq!(p, path);
            kind
        }
        other => panic!("{other:?}"),
    }
}

fn header(used: i32) -> Vec<u8> {
    let mut b = used.to_ne_bytes().to_vec();
    b.extend_from_slice(&[0; 4]);
    b
}

#[test]
fn corrupt_files_are_structured_errors() {
    assert_eq!(corruption(&[1, 0, 0]), Corruption::TooShort { len: 3 });
    assert_eq!(corruption(&header(-5)), Corruption::BadUsed { used: -5 });
    assert_eq!(corruption(&header(4)), Corruption::BadUsed { used: 4 });
    // Truncated: the header promises more than the file holds.
    let mut truncated = unhex(PYTHON_FILE);
    truncated.truncate(100);
    assert_eq!(
        corruption(&truncated),
        Corruption::UsedBeyondFile {
            used: 112,
            len: 100
        }
    );
    let mut b = header(48);
    b.extend_from_slice(&(-12i32).to_ne_bytes());
    b.resize(48, 0);
    assert_eq!(
        corruption(&b),
        Corruption::KeyLength {
            offset: 8,
            keylen: -12
        }
    );
    let mut b = header(48);
    b.extend_from_slice(&1000i32.to_ne_bytes());
    b.resize(48, 0);
    assert_eq!(
        corruption(&b),
        Corruption::KeyLength {
            offset: 8,
            keylen: 1000
        }
    );
    // A key that fits but whose value runs past `used`.
    let mut b = header(24);
    b.extend_from_slice(&4i32.to_ne_bytes());
    b.extend_from_slice(b"abcd");
    b.resize(24, 0);
    assert_eq!(
        corruption(&b),
        Corruption::EntryPastUsed {
            offset: 8,
            used: 24
        }
    );
    let mut b = header(40);
    b.extend_from_slice(&2i32.to_ne_bytes());
    b.extend_from_slice(&[0xff, 0xfe, b' ', b' ']);
    b.resize(40, 0);
    assert_eq!(corruption(&b), Corruption::KeyNotUtf8 { offset: 8 });
}

#[test]
fn empty_and_fresh_files_have_no_entries() {
    let dir = TempDir::new();
    let empty = dir.path("counter_1.db");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(read_all_values_from_file(&empty).unwrap(), vec![]);
    let fresh = dir.path("counter_2.db");
    std::fs::write(&fresh, vec![0; 4096]).unwrap();
    assert_eq!(read_all_values_from_file(&fresh).unwrap(), vec![]);
}

#[test]
fn writer_refuses_a_corrupt_file() {
    let dir = TempDir::new();
    let path = dir.path("counter_1.db");
    let mut b = header(16);
    b.resize(64, 0);
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        MmapDict::open(&path),
        Err(MmapError::Corrupt {
            kind: Corruption::EntryPastUsed { .. },
            ..
        })
    ));
    std::fs::write(&path, header(9)).unwrap();
    assert!(matches!(
        MmapDict::open(&path),
        Err(MmapError::Corrupt {
            kind: Corruption::BadUsed { used: 9 },
            ..
        })
    ));
}

// ---------------------------------------------------------------- the merge

/// One file of [`SCENARIO`]: (metric, sample, labels, help, value, timestamp) per entry.
type Writes = &'static [(
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    f64,
    f64,
)];

/// The files of two processes (pids 1 and 2), every kind of sample, the way
/// prometheus_client's workers would write them, in a fixed order.
const SCENARIO: &[(&str, Writes)] = &[
    (
        "counter_1.db",
        &[
            ("c", "c_total", &[("a", "x")], "c help", 1.0, 0.0),
            ("c", "c_total", &[("a", "y")], "c help", 2.0, 0.0),
        ],
    ),
    ("gauge_all_1.db", &[("g", "g", &[], "g help", 1.5, 0.0)]),
    (
        "gauge_livesum_1.db",
        &[("busy", "busy", &[], "busy help", 1.0, 0.0)],
    ),
    (
        "gauge_max_1.db",
        &[("mx", "mx", &[("a", "x")], "max help", 3.0, 0.0)],
    ),
    (
        "gauge_min_1.db",
        &[("mn", "mn", &[("a", "x")], "min help", 3.0, 0.0)],
    ),
    (
        "gauge_mostrecent_1.db",
        &[
            ("r", "r", &[], "recent help", 10.0, 100.0),
            ("r0", "r0", &[], "never set", 7.0, 0.0),
        ],
    ),
    (
        "histogram_1.db",
        &[
            ("h", "h_sum", &[], "h help", 0.3, 0.0),
            ("h", "h_bucket", &[("le", "0.5")], "h help", 1.0, 0.0),
            ("h", "h_bucket", &[("le", "1.0")], "h help", 0.0, 0.0),
            ("h", "h_bucket", &[("le", "+Inf")], "h help", 0.0, 0.0),
        ],
    ),
    (
        "summary_1.db",
        &[
            ("s", "s_count", &[], "s help", 2.0, 0.0),
            ("s", "s_sum", &[], "s help", 0.5, 0.0),
        ],
    ),
    (
        "counter_2.db",
        &[
            ("d", "d_total", &[], "d help", 1.0, 0.0),
            ("c", "c_total", &[("a", "y")], "c help", 3.0, 0.0),
            ("c", "c_total", &[("a", "z")], "c help", 4.0, 0.0),
        ],
    ),
    ("gauge_all_2.db", &[("g", "g", &[], "g help", 2.5, 0.0)]),
    (
        "gauge_livesum_2.db",
        &[("busy", "busy", &[], "busy help", 1.0, 0.0)],
    ),
    (
        "gauge_max_2.db",
        &[
            ("mx", "mx", &[("a", "x")], "max help", 5.0, 0.0),
            ("mx", "mx", &[("a", "y")], "max help", -1.0, 0.0),
        ],
    ),
    (
        "gauge_min_2.db",
        &[("mn", "mn", &[("a", "x")], "min help", -3.0, 0.0)],
    ),
    (
        "gauge_mostrecent_2.db",
        &[("r", "r", &[], "recent help", 20.0, 50.0)],
    ),
    (
        "histogram_2.db",
        &[
            ("h", "h_sum", &[("q", "1")], "h help", 2.0, 0.0),
            (
                "h",
                "h_bucket",
                &[("le", "0.5"), ("q", "1")],
                "h help",
                0.0,
                0.0,
            ),
            (
                "h",
                "h_bucket",
                &[("le", "1.0"), ("q", "1")],
                "h help",
                0.0,
                0.0,
            ),
            (
                "h",
                "h_bucket",
                &[("le", "+Inf"), ("q", "1")],
                "h help",
                1.0,
                0.0,
            ),
            ("h", "h_sum", &[], "h help", 0.6, 0.0),
            ("h", "h_bucket", &[("le", "0.5")], "h help", 1.0, 0.0),
            ("h", "h_bucket", &[("le", "1.0")], "h help", 1.0, 0.0),
            ("h", "h_bucket", &[("le", "+Inf")], "h help", 0.0, 0.0),
        ],
    ),
    (
        "summary_2.db",
        &[
            ("s", "s_count", &[], "s help", 1.0, 0.0),
            ("s", "s_sum", &[], "s help", 0.25, 0.0),
        ],
    ),
];

/// Writes the files of [`SCENARIO`] into `dir`; returns them in its order.
fn write_scenario(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (name, writes) in SCENARIO {
        let path = dir.join(name);
        let d = MmapDict::open(&path).unwrap();
        for (metric, sample, labels, help, value, ts) in *writes {
            d.write_value(&key(metric, sample, labels, help), *value, *ts)
                .unwrap();
        }
        paths.push(path);
    }
    paths
}

/// prometheus_client's `generate_latest` of a registry holding
/// `MultiProcessCollector.merge(files)` over [`write_scenario`]'s files, in their order.
const SCENARIO_TEXT: &str = "\
# HELP c_total c help\n\
# TYPE c_total counter\n\
c_total{a=\"x\"} 1.0\n\
c_total{a=\"y\"} 5.0\n\
c_total{a=\"z\"} 4.0\n\
# HELP g g help\n\
# TYPE g gauge\n\
g{pid=\"1\"} 1.5\n\
g{pid=\"2\"} 2.5\n\
# HELP busy busy help\n\
# TYPE busy gauge\n\
busy 2.0\n\
# HELP mx max help\n\
# TYPE mx gauge\n\
mx{a=\"x\"} 5.0\n\
mx{a=\"y\"} -1.0\n\
# HELP mn min help\n\
# TYPE mn gauge\n\
mn{a=\"x\"} -3.0\n\
# HELP r recent help\n\
# TYPE r gauge\n\
r 10.0\n\
# HELP r0 never set\n\
# TYPE r0 gauge\n\
# HELP h h help\n\
# TYPE h histogram\n\
h_sum 0.8999999999999999\n\
h_bucket{le=\"0.5\"} 2.0\n\
h_bucket{le=\"1.0\"} 3.0\n\
h_bucket{le=\"+Inf\"} 3.0\n\
h_count 3.0\n\
h_sum{q=\"1\"} 2.0\n\
h_bucket{le=\"0.5\",q=\"1\"} 0.0\n\
h_bucket{le=\"1.0\",q=\"1\"} 0.0\n\
h_bucket{le=\"+Inf\",q=\"1\"} 1.0\n\
h_count{q=\"1\"} 1.0\n\
# HELP s s help\n\
# TYPE s summary\n\
s_count 3.0\n\
s_sum 0.75\n\
# HELP d_total d help\n\
# TYPE d_total counter\n\
d_total 1.0\n\
";

/// The same in OpenMetrics.
const SCENARIO_OM: &str = "\
# HELP c c help\n\
# TYPE c counter\n\
c_total{a=\"x\"} 1.0\n\
c_total{a=\"y\"} 5.0\n\
c_total{a=\"z\"} 4.0\n\
# HELP g g help\n\
# TYPE g gauge\n\
g{pid=\"1\"} 1.5\n\
g{pid=\"2\"} 2.5\n\
# HELP busy busy help\n\
# TYPE busy gauge\n\
busy 2.0\n\
# HELP mx max help\n\
# TYPE mx gauge\n\
mx{a=\"x\"} 5.0\n\
mx{a=\"y\"} -1.0\n\
# HELP mn min help\n\
# TYPE mn gauge\n\
mn{a=\"x\"} -3.0\n\
# HELP r recent help\n\
# TYPE r gauge\n\
r 10.0\n\
# HELP r0 never set\n\
# TYPE r0 gauge\n\
# HELP h h help\n\
# TYPE h histogram\n\
h_sum 0.8999999999999999\n\
h_bucket{le=\"0.5\"} 2.0\n\
h_bucket{le=\"1.0\"} 3.0\n\
h_bucket{le=\"+Inf\"} 3.0\n\
h_count 3.0\n\
h_sum{q=\"1\"} 2.0\n\
h_bucket{le=\"0.5\",q=\"1\"} 0.0\n\
h_bucket{le=\"1.0\",q=\"1\"} 0.0\n\
h_bucket{le=\"+Inf\",q=\"1\"} 1.0\n\
h_count{q=\"1\"} 1.0\n\
# HELP s s help\n\
# TYPE s summary\n\
s_count 3.0\n\
s_sum 0.75\n\
# HELP d d help\n\
# TYPE d counter\n\
d_total 1.0\n\
# EOF\n\
";

/// The same with `merge(files, accumulate=False)`, text format.
const SCENARIO_NOT_ACCUMULATED: &str = "\
# HELP c_total c help\n\
# TYPE c_total counter\n\
c_total{a=\"x\"} 1.0\n\
c_total{a=\"y\"} 5.0\n\
c_total{a=\"z\"} 4.0\n\
# HELP g g help\n\
# TYPE g gauge\n\
g{pid=\"1\"} 1.5\n\
g{pid=\"2\"} 2.5\n\
# HELP busy busy help\n\
# TYPE busy gauge\n\
busy 2.0\n\
# HELP mx max help\n\
# TYPE mx gauge\n\
mx{a=\"x\"} 5.0\n\
mx{a=\"y\"} -1.0\n\
# HELP mn min help\n\
# TYPE mn gauge\n\
mn{a=\"x\"} -3.0\n\
# HELP r recent help\n\
# TYPE r gauge\n\
r 10.0\n\
# HELP r0 never set\n\
# TYPE r0 gauge\n\
# HELP h h help\n\
# TYPE h histogram\n\
h_sum 0.8999999999999999\n\
h_bucket{le=\"0.5\"} 2.0\n\
h_bucket{le=\"1.0\"} 1.0\n\
h_bucket{le=\"+Inf\"} 0.0\n\
h_sum{q=\"1\"} 2.0\n\
h_bucket{le=\"0.5\",q=\"1\"} 0.0\n\
h_bucket{le=\"1.0\",q=\"1\"} 0.0\n\
h_bucket{le=\"+Inf\",q=\"1\"} 1.0\n\
# HELP s s help\n\
# TYPE s summary\n\
s_count 3.0\n\
s_sum 0.75\n\
# HELP d_total d help\n\
# TYPE d_total counter\n\
d_total 1.0\n\
";

#[test]
fn merge_renders_what_prometheus_client_renders() {
    let dir = TempDir::new();
    let files = write_scenario(&dir.0);
    let merged = merge(&files, true);
    assert!(merged.warnings.is_empty());
    assert_eq!(render(&TEXT, &merged.families), SCENARIO_TEXT);
    assert_eq!(render(&OM, &merged.families), SCENARIO_OM);
    let merged = merge(&files, false);
    assert_eq!(render(&TEXT, &merged.families), SCENARIO_NOT_ACCUMULATED);
}

fn family_names(families: &[OwnedFamily]) -> Vec<String> {
    let mut names: Vec<String> = families.iter().map(|f| f.name.clone()).collect();
    names.sort();
    names
}

#[test]
fn collect_lists_the_directory() {
    let dir = TempDir::new();
    let files = write_scenario(&dir.0);
    // Not listed: hidden files, other extensions, and no warning for them.
    std::fs::write(dir.path(".counter_9.db"), b"garbage").unwrap();
    std::fs::write(dir.path("counter_9.db.tmp"), b"garbage").unwrap();
    let mut listed = list_db_files(&dir.0).unwrap();
    listed.sort();
    let mut want = files.clone();
    want.sort();
    assert_eq!(listed, want);
    let merged = collect(&dir.0);
    assert!(merged.warnings.is_empty());
    let expected = merge(&files, true).families;
    assert_eq!(family_names(&merged.families), family_names(&expected));
    for f in &expected {
        let got = merged.families.iter().find(|g| g.name == f.name).unwrap();
        let mut a = got.samples.clone();
        let mut b = f.samples.clone();
        let order = |x: &fastprom::core::model::OwnedSample,
                     y: &fastprom::core::model::OwnedSample| {
            (&x.name, &x.labels).cmp(&(&y.name, &y.labels))
        };
        a.sort_by(order);
        b.sort_by(order);
        assert_eq!(a, b, "{}", f.name);
    }
}

#[test]
fn collect_of_a_missing_directory_warns() {
    let dir = TempDir::new();
    let merged = collect(&dir.path("gone"));
    assert!(merged.families.is_empty());
    assert_eq!(merged.warnings.len(), 1);
    assert_eq!(merged.warnings[0].path, dir.path("gone"));
}

#[test]
fn mark_process_dead_removes_only_live_gauges() {
    let dir = TempDir::new();
    let files = write_scenario(&dir.0);
    let live = MmapDict::open(dir.path("gauge_liveall_1.db")).unwrap();
    live.write_value(&key("la", "la", &[], ""), 1.0, 0.0)
        .unwrap();
    drop(live);
    let removed = mark_process_dead("1", &dir.0).unwrap();
    let mut removed: Vec<String> = removed
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, ["gauge_liveall_1.db", "gauge_livesum_1.db"]);
    assert!(dir.path("gauge_all_1.db").exists());
    assert!(dir.path("counter_1.db").exists());
    assert_eq!(
        mark_process_dead("1", &dir.0).unwrap(),
        Vec::<PathBuf>::new()
    );
    // The removed file, still in the list given to merge: skipped without a word.
    let merged = merge(&files, true);
    assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    let text = render(&TEXT, &merged.families);
    assert!(text.contains("\nbusy 1.0\n"), "{text}");
}

#[test]
fn corrupt_and_foreign_files_are_skipped_with_one_warning_each() {
    let dir = TempDir::new();
    let mut files = write_scenario(&dir.0);
    let mut bad = unhex(PYTHON_FILE);
    bad.truncate(60); // a worker killed mid-write, or a copy cut short
    std::fs::write(dir.path("counter_66.db"), &bad).unwrap();
    let mut garbage = header(40);
    garbage.extend_from_slice(&4i32.to_ne_bytes());
    garbage.extend_from_slice(b"[1] ");
    garbage.resize(40, 0);
    std::fs::write(dir.path("counter_67.db"), &garbage).unwrap();
    std::fs::write(dir.path("gauge_all_68.db"), b"").unwrap(); // killed before sizing
    std::fs::write(dir.path("foo.db"), b"not ours").unwrap();
    files.insert(3, dir.path("counter_66.db"));
    files.insert(0, dir.path("counter_67.db"));
    files.push(dir.path("gauge_all_68.db"));
    files.push(dir.path("foo.db"));
    files.push(dir.path("counter_69.db")); // vanished between listing and reading
    files.push(dir.path("gauge_livesum_70.db")); // removed by mark_process_dead: no warning
    let merged = merge(&files, true);
    assert_eq!(render(&TEXT, &merged.families), SCENARIO_TEXT);
    let warned: Vec<String> = merged
        .warnings
        .iter()
        .map(|w| w.path.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        warned,
        ["counter_67.db", "counter_66.db", "foo.db", "counter_69.db"]
    );
    let texts: Vec<String> = merged.warnings.iter().map(ToString::to_string).collect();
    assert!(texts[0].contains("invalid key"), "{}", texts[0]);
    assert!(texts[1].contains("truncated"), "{}", texts[1]);
    assert!(matches!(merged.warnings[2].kind, WarningKind::Name(_)));
    for t in &texts {
        assert!(t.contains(dir.0.to_str().unwrap()), "{t}");
    }
}

#[test]
fn bucket_with_a_bad_le_is_left_out_with_a_warning() {
    let dir = TempDir::new();
    let path = dir.path("histogram_1.db");
    let d = MmapDict::open(&path).unwrap();
    d.write_value(&key("h", "h_sum", &[], ""), 1.0, 0.0)
        .unwrap();
    d.write_value(&key("h", "h_bucket", &[("le", "1_0")], ""), 1.0, 0.0)
        .unwrap();
    d.write_value(&key("h", "h_bucket", &[("le", " 2e0 ")], ""), 2.0, 0.0)
        .unwrap();
    d.write_value(&key("h", "h_bucket", &[("le", "oops")], ""), 4.0, 0.0)
        .unwrap();
    drop(d);
    let merged = merge(&[&path], true);
    assert_eq!(
        render(&TEXT, &merged.families),
        "# HELP h \n# TYPE h histogram\nh_sum 1.0\nh_bucket{le=\"2.0\"} 2.0\n\
         h_bucket{le=\"10.0\"} 3.0\nh_count 3.0\n"
    );
    assert_eq!(merged.warnings.len(), 1);
    assert!(matches!(&merged.warnings[0].kind, WarningKind::BadLe { le, .. } if le == "oops"));
}

#[test]
fn a_thousand_dead_workers() {
    let dir = TempDir::new();
    for pid in 0..500 {
        let c = MmapDict::open(dir.path(&file_name("counter", "", &pid.to_string()))).unwrap();
        for series in ["a", "b", "c"] {
            c.slot(&key("req", "req_total", &[("path", series)], "requests"))
                .unwrap()
                .inc(1.0);
        }
        let g = MmapDict::open(dir.path(&file_name("gauge", "all", &pid.to_string()))).unwrap();
        g.write_value(&key("temp", "temp", &[], "t"), f64::from(pid), 0.0)
            .unwrap();
    }
    assert_eq!(list_db_files(&dir.0).unwrap().len(), 1000);
    let merged = collect(&dir.0);
    assert!(merged.warnings.is_empty());
    let req = merged.families.iter().find(|f| f.name == "req").unwrap();
    assert_eq!(req.samples.len(), 3);
    assert!(req.samples.iter().all(|s| s.value == Some(500.0)));
    let temp = merged.families.iter().find(|f| f.name == "temp").unwrap();
    assert_eq!(temp.samples.len(), 500);
    let total: f64 = temp.samples.iter().filter_map(|s| s.value).sum();
    assert_eq!(total, f64::from((0..500).sum::<i32>()));
}

#[test]
fn scrapes_racing_a_growing_writer_always_parse() {
    let dir = TempDir::new();
    let d = MmapDict::open(dir.path("counter_1.db")).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..6_000 {
                let k = key(
                    "r",
                    "r_total",
                    &[("i", &format!("{i:05}{}", "p".repeat(40)))],
                    "",
                );
                d.slot(&k).unwrap().inc(1.0);
            }
            done.store(true, Ordering::SeqCst);
        });
        let mut scrapes = 0;
        let mut last = 0;
        while !done.load(Ordering::SeqCst) || scrapes == 0 {
            let merged = collect(&dir.0);
            assert!(merged.warnings.is_empty(), "{}", merged.warnings[0]);
            let n = merged.families.first().map_or(0, |f| f.samples.len());
            assert!(n >= last, "{n} series after {last}");
            last = n;
            scrapes += 1;
        }
    });
    assert!(d.capacity() >= 8 * INITIAL_MMAP_SIZE);
    assert_eq!(collect(&dir.0).families[0].samples.len(), 6_000);
}

// ---------------------------------------------------------------------------------------
// The value classes (store.rs) and the metrics' values in them (value.rs)

mod values {
    use super::*;
    use std::sync::Mutex;

    use fastprom::core::metric::{Buckets, CounterValue, Desc, Family, HistogramValue};
    use fastprom::core::multiprocess::store::{self, ProcessIdentifier, Store};

    fn identifier(current: &Arc<Mutex<String>>) -> Box<ProcessIdentifier> {
        let current = current.clone();
        Box::new(move || Ok(current.lock().unwrap().clone()))
    }

    fn values(path: &Path) -> Vec<(String, f64, f64)> {
        read_all_values_from_file(path).unwrap()
    }

    #[test]
    fn a_new_identifier_moves_every_value_in_creation_order() {
        let dir = TempDir::new();
        let pid = Arc::new(Mutex::new("0".to_string()));
        let s = Store::in_directory(dir.0.clone(), Some(identifier(&pid))).unwrap();
        let (ka, kb, kc) = (
            key("a", "a_total", &[], "h"),
            key("b", "b_total", &[], "h"),
            key("c", "c", &[], "h"),
        );
        let a = s.cell("counter", "", ka.clone()).unwrap();
        let b = s.cell("counter", "", kb.clone()).unwrap();
        a.inc(2.0).unwrap();
        b.inc(0.5).unwrap();
        *pid.lock().unwrap() = "1".into();
        // The change is seen when a value is created too: the new file gets every key.
        let c = s.cell("gauge", "max", kc.clone()).unwrap();
        assert_eq!(
            values(&dir.path("counter_1.db")),
            [(ka.clone(), 0.0, 0.0), (kb.clone(), 0.0, 0.0)]
        );
        a.inc(1.0).unwrap();
        c.set(4.0, 9.5).unwrap();
        assert_eq!(a.get().unwrap(), 1.0);
        assert_eq!(
            values(&dir.path("counter_0.db")),
            [(ka.clone(), 2.0, 0.0), (kb, 0.5, 0.0)]
        );
        assert_eq!(values(&dir.path("counter_1.db"))[0], (ka, 1.0, 0.0));
        assert_eq!(values(&dir.path("gauge_max_1.db")), [(kc, 4.0, 9.5)]);
        assert_eq!(s.pid(), "1");
        assert_eq!(s.open_files(), 2);
    }

    #[test]
    fn a_fork_without_a_new_pid_changes_nothing() {
        let dir = TempDir::new();
        let s = Store::in_directory(dir.0.clone(), None).unwrap();
        let a = s
            .cell("counter", "", key("a", "a_total", &[], "h"))
            .unwrap();
        a.inc(1.0).unwrap();
        store::note_fork();
        a.inc(1.0).unwrap();
        let name = file_name("counter", "", &std::process::id().to_string());
        assert_eq!(values(&dir.path(&name))[0].1, 2.0);
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    #[test]
    fn threads_lose_no_increment() {
        let dir = TempDir::new();
        let s = Store::in_directory(dir.0.clone(), None).unwrap();
        let cell = s
            .cell("counter", "", key("a", "a_total", &[], "h"))
            .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let cell = cell.clone();
                thread::spawn(move || {
                    for _ in 0..20_000 {
                        cell.inc(1.0).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cell.get().unwrap(), 160_000.0);
    }

    #[test]
    fn closing_forgets_values_and_keeps_their_mappings() {
        let dir = TempDir::new();
        let s = Store::in_directory(dir.0.clone(), None).unwrap();
        let k = key("a", "a_total", &[], "h");
        let a = s.cell("counter", "", k.clone()).unwrap();
        a.inc(3.0).unwrap();
        // (store::close_all() closes every store: other tests run in parallel.)
        s.close();
        assert_eq!(s.open_files(), 0);
        a.inc(1.0).unwrap();
        // A value created again reads what the file holds.
        let again = s.cell("counter", "", k).unwrap();
        assert_eq!(again.get().unwrap(), 4.0);
    }

    #[test]
    fn metrics_create_their_values_in_the_current_class() {
        let dir = TempDir::new();
        let s = Store::in_directory(dir.0.clone(), Some(Box::new(|| Ok("w".into())))).unwrap();
        store::set_value_class(Some(s));
        let now = || Ok::<f64, Error>(0.0);
        let h = Family::<HistogramValue>::new(
            Desc::new("h".into(), "help".into(), String::new(), vec!["l".into()]),
            Buckets::new(vec![1.0]).unwrap(),
            0.0,
        )
        .unwrap();
        let child = h.child(&["x"], now).unwrap();
        child.value.observe(h.config.index(0.5), 0.5).unwrap();
        child.value.observe(None, f64::NAN).unwrap();
        let c = Family::<CounterValue>::new(
            Desc::new("c".into(), "help".into(), String::new(), vec![]),
            (),
            0.0,
        )
        .unwrap();
        c.solo().unwrap().value.inc(2.0).unwrap();
        store::set_value_class(None);
        let local = Family::<CounterValue>::new(
            Desc::new("local".into(), "help".into(), String::new(), vec![]),
            (),
            0.0,
        )
        .unwrap();
        local.solo().unwrap().value.inc(1.0).unwrap();
        let hist = values(&dir.path("histogram_w.db"));
        let keys: Vec<&str> = hist.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                key("h", "h_sum", &[("l", "x")], "help"),
                key("h", "h_bucket", &[("l", "x"), ("le", "1.0")], "help"),
                key("h", "h_bucket", &[("l", "x"), ("le", "+Inf")], "help"),
            ]
        );
        assert!(hist[0].1.is_nan());
        assert_eq!((hist[1].1, hist[2].1), (1.0, 0.0));
        assert_eq!(
            values(&dir.path("counter_w.db")),
            [(key("c", "c_total", &[], "help"), 2.0, 0.0)]
        );
    }
}
