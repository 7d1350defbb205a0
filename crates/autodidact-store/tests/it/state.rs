//! Stage state, metrics and run metadata.

use crate::{fresh, other_connection};

#[test]
fn stages_round_trip() {
    let (_dir, path, store) = fresh();
    let done = [
        (0, "generate"),
        (0, "grade"),
        (1, "generate"),
        (u32::MAX, "train"),
    ];
    for (generation, stage) in done {
        store.mark_stage_done(generation, stage).expect("mark");
        // Synchronous: committed when it returns, visible to any other connection.
        let seen: i64 = other_connection(&path)
            .query_row(
                "SELECT COUNT(*) FROM stages WHERE generation = ?1 AND stage = ?2",
                rusqlite::params![generation, stage],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(seen, 1, "({generation}, {stage}) not committed");
    }
    // Marking twice is harmless.
    store.mark_stage_done(0, "generate").expect("mark again");
    let check = |generation: u32, stage: &str, expected: bool| {
        assert_eq!(
            store.stage_done(generation, stage).expect("stage_done"),
            expected,
            "({generation}, {stage})"
        );
    };
    check(0, "generate", true);
    check(0, "grade", true);
    check(0, "curate", false);
    check(1, "generate", true);
    check(1, "grade", false);
    check(2, "generate", false);
    check(u32::MAX, "train", true);
    check(0, "GENERATE", false);
}

#[test]
fn metrics_replace_and_come_back_in_generation_order() {
    let (_dir, _path, store) = fresh();
    assert_eq!(store.metrics().expect("metrics"), vec![]);
    for (generation, json) in [
        (2, r#"{"g":2}"#),
        (0, r#"{"g":0}"#),
        (10, r#"{"g":10}"#),
        (1, r#"{"old":1}"#),
    ] {
        store.put_metrics(generation, json).expect("put");
    }
    store.put_metrics(1, r#"{"g":1}"#).expect("replace");
    let expected: Vec<(u32, String)> = [0, 1, 2, 10]
        .into_iter()
        .map(|g| (g, format!(r#"{{"g":{g}}}"#)))
        .collect();
    assert_eq!(store.metrics().expect("metrics"), expected);
}

#[test]
fn meta_round_trip() {
    let (_dir, _path, store) = fresh();
    assert_eq!(store.get_meta("config_hash").expect("get"), None);
    store.set_meta("config_hash", "abc").expect("set");
    store.set_meta("seed", "42").expect("set");
    store.set_meta("config_hash", "def").expect("replace");
    assert_eq!(
        store.get_meta("config_hash").expect("get").as_deref(),
        Some("def")
    );
    assert_eq!(store.get_meta("seed").expect("get").as_deref(), Some("42"));
    assert_eq!(store.get_meta("Seed").expect("get"), None);
}
