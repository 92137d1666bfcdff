//! The series cap of a family (`max_series`): new label values past the cap go to one
//! overflow child, existing ones keep theirs, removal makes room, and concurrent creators
//! never pass it.
//!
//! Run with `cargo test --no-default-features`.

// Counts are small integers, exact in f64; `now` has the signature `Family::child` takes.
#![allow(clippy::float_cmp, clippy::unnecessary_wraps)]

use std::sync::Arc;
use std::thread;

use fastprom::core::error::{Error, Result};
use fastprom::core::metric::{CounterValue, Desc, Family, OVERFLOW_LABEL_VALUE};

fn capped(max: Option<usize>) -> Family<CounterValue> {
    let desc = Desc::new(
        "c".into(),
        "h".into(),
        String::new(),
        vec!["a".into(), "b".into()],
    );
    Family::new(desc, (), 1.0).unwrap().with_max_series(max)
}

fn now() -> Result<f64> {
    Ok(2.0)
}

fn labels(fam: &Family<CounterValue>) -> Vec<Vec<String>> {
    fam.children()
        .iter()
        .map(|c| c.label_values().iter().map(str::to_owned).collect())
        .collect()
}

fn strs(v: &[Vec<String>]) -> Vec<Vec<&str>> {
    v.iter()
        .map(|x| x.iter().map(String::as_str).collect())
        .collect()
}

const OVER: [&str; 2] = [OVERFLOW_LABEL_VALUE, OVERFLOW_LABEL_VALUE];

#[test]
fn new_values_past_the_cap_go_to_the_overflow_child() {
    let fam = capped(Some(2));
    for i in 0..5 {
        let v = i.to_string();
        let got = fam.child_capped(&[v.as_str(), "x"], now).unwrap();
        assert_eq!(got.overflowed, i >= 2, "{i}");
        got.child.value.inc(1.0).unwrap();
    }
    assert_eq!(
        labels(&fam),
        [vec!["0", "x"], vec!["1", "x"], OVER.to_vec()]
    );
    let over = fam.get(&OVER).unwrap();
    assert_eq!(over.value.get().unwrap(), 3.0);
    // An existing label set keeps its own child.
    let again = fam.child_capped(&["1", "x"], now).unwrap();
    assert!(!again.overflowed);
    assert_eq!(again.child.value.get().unwrap(), 1.0);
    assert_eq!(fam.len(), 3);
}

#[test]
fn removing_children_makes_room() {
    let fam = capped(Some(1));
    fam.child(&["a", "b"], now).unwrap();
    assert!(fam.child_capped(&["c", "d"], now).unwrap().overflowed);
    assert!(fam.remove(&["a", "b"]));
    // The overflow child does not count toward the cap.
    assert!(!fam.child_capped(&["c", "d"], now).unwrap().overflowed);
    assert!(fam.child_capped(&["e", "f"], now).unwrap().overflowed);
    fam.clear();
    assert!(!fam.child_capped(&["e", "f"], now).unwrap().overflowed);
    assert_eq!(strs(&labels(&fam)), [vec!["e", "f"]]);
}

#[test]
fn no_cap_creates_every_child() {
    let fam = capped(None);
    for i in 0..100 {
        let v = i.to_string();
        assert!(
            !fam.child_capped(&[v.as_str(), "x"], now)
                .unwrap()
                .overflowed
        );
    }
    assert_eq!(fam.len(), 100);
    assert!(fam.get(&OVER).is_none());
}

#[test]
fn caps_below_one_are_refused() {
    for bad in [0, -1, i64::MIN] {
        match Family::<CounterValue>::check_max_series(Some(bad)) {
            Err(Error::MaxSeries(s)) => {
                assert_eq!(s, bad.to_string());
                assert!(Error::MaxSeries(s).to_string().contains("max_series"));
            }
            other => panic!("{bad}: {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(
        Family::<CounterValue>::check_max_series(Some(7)).unwrap(),
        Some(7)
    );
    assert_eq!(
        Family::<CounterValue>::check_max_series(None).unwrap(),
        None
    );
}

#[test]
fn the_first_overflow_is_reported_once() {
    let fam = capped(Some(1));
    assert!(fam.first_overflow());
    assert!(!fam.first_overflow());
}

#[test]
fn concurrent_creators_never_pass_the_cap() {
    const CAP: usize = 50;
    const THREADS: usize = 8;
    const PER_THREAD: usize = 2000;
    let fam = Arc::new(capped(Some(CAP)));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let fam = fam.clone();
            thread::spawn(move || {
                let mut overflowed = 0usize;
                for i in 0..PER_THREAD {
                    let v = format!("{t}-{i}");
                    let got = fam.child_capped(&[v.as_str(), "x"], now).unwrap();
                    got.child.value.inc(1.0).unwrap();
                    overflowed += usize::from(got.overflowed);
                    assert!(fam.len() <= CAP + 1);
                }
                overflowed
            })
        })
        .collect();
    let overflowed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(fam.len(), CAP + 1);
    assert_eq!(overflowed, THREADS * PER_THREAD - CAP);
    let total: f64 = fam.children().iter().map(|c| c.value.get().unwrap()).sum();
    #[allow(clippy::cast_precision_loss)]
    let expected = (THREADS * PER_THREAD) as f64;
    assert_eq!(total, expected);
    assert_eq!(
        fam.get(&OVER).unwrap().value.get().unwrap(),
        expected - 50.0
    );
}
