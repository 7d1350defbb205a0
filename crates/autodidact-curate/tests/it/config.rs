//! `[curate]` as TOML: defaults, round trips, unknown keys and validation.

use std::path::PathBuf;

use autodidact_curate::{CurateConfig, CurateError, Curator, NearDupConfig};

fn parse(text: &str) -> Result<CurateConfig, toml::de::Error> {
    toml::from_str(text)
}

fn round_trip(cfg: &CurateConfig) {
    let text = toml::to_string(cfg).expect("serialises");
    let back: CurateConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(&back, cfg, "round trip through:\n{text}");
}

#[test]
fn configs_round_trip_through_toml() {
    round_trip(&CurateConfig::default());
    round_trip(&CurateConfig {
        min_score: None,
        min_words: 20,
        max_words: Some(800),
        max_repetition: 0.25,
        exact_duplicates: false,
        near_duplicates: None,
        decontaminate: vec![PathBuf::from("eval.jsonl"), PathBuf::from("more/test.jsonl")],
        decontaminate_ngram: 8,
        field: Some("prompt+response".into()),
        remember: vec![PathBuf::from("real.parquet")],
        budget: Some(500),
        selection: autodidact_curate::Selection::Random,
    });
    round_trip(&CurateConfig {
        min_score: Some(0.55),
        near_duplicates: Some(NearDupConfig {
            threshold: 0.9,
            permutations: 256,
            ngram: 3,
            bands: Some(32),
            rows: Some(8),
        }),
        ..CurateConfig::default()
    });
}

#[test]
fn empty_table_is_the_default_and_design_example_parses() {
    assert_eq!(parse("").unwrap(), CurateConfig::default());
    let cfg = parse(
        "min_score = 0.7\nnear_duplicates = { threshold = 0.8, permutations = 128 }\ndecontaminate = [\"eval.jsonl\"]\n",
    )
    .unwrap();
    assert_eq!(cfg.decontaminate, [PathBuf::from("eval.jsonl")]);
    assert_eq!(cfg.near_duplicates, Some(NearDupConfig::default()));
}

#[test]
fn false_turns_optional_parts_off() {
    let cfg = parse("min_score = false\nnear_duplicates = false\n").unwrap();
    assert_eq!(cfg.min_score, None);
    assert_eq!(cfg.near_duplicates, None);
    let cfg = parse("min_score = 1\nnear_duplicates = true\n").unwrap();
    assert_eq!(cfg.min_score, Some(1.0));
    assert_eq!(cfg.near_duplicates, Some(NearDupConfig::default()));
    let err = parse("min_score = true\n").unwrap_err().to_string();
    assert!(err.contains("false for no threshold"), "{err}");
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    for (text, key) in [
        ("min_scor = 0.5\n", "min_scor"),
        ("[near_duplicates]\nthreshhold = 0.9\n", "threshhold"),
        ("near_duplicates = { permutations = 64, bandz = 4 }\n", "bandz"),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains("unknown field"), "{text:?}: {err}");
    }
}

#[test]
fn invalid_values_are_errors_naming_the_key() {
    let cases = [
        ("min_score = nan\n", "min_score"),
        ("min_words = 10\nmax_words = 5\n", "max_words"),
        ("max_repetition = 1.5\n", "max_repetition"),
        ("max_repetition = -0.1\n", "max_repetition"),
        ("decontaminate_ngram = 0\n", "decontaminate_ngram"),
        ("field = \"answer\"\n", "field"),
        ("near_duplicates = { threshold = 0.0 }\n", "near_duplicates.threshold"),
        ("near_duplicates = { threshold = 1.2 }\n", "near_duplicates.threshold"),
        ("near_duplicates = { permutations = 0 }\n", "near_duplicates.permutations"),
        ("near_duplicates = { ngram = 0 }\n", "near_duplicates.ngram"),
        ("near_duplicates = { permutations = 128, bands = 20, rows = 7 }\n", "near_duplicates.bands"),
        ("near_duplicates = { permutations = 128, bands = 0 }\n", "near_duplicates.bands"),
        ("near_duplicates = { permutations = 16, bands = 17 }\n", "near_duplicates.bands"),
        ("near_duplicates = { permutations = 16, rows = 0 }\n", "near_duplicates.rows"),
    ];
    for (text, key) in cases {
        let cfg = parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
        let err = cfg.validate().expect_err(text);
        assert_eq!(err.key(), Some(key), "{text:?}: {err}");
        assert!(err.to_string().contains(key), "{err}");
        // The curator refuses it too, with the same error.
        let err = Curator::new(&cfg).err().expect(text);
        assert!(matches!(&err, CurateError::Config { key: k, .. } if k == key), "{err}");
    }
}

#[test]
fn bands_and_rows_follow_the_documented_rule() {
    let curator = |text: &str| Curator::new(&parse(text).unwrap()).unwrap().bands_rows();
    assert_eq!(curator(""), Some((14, 9)));
    assert_eq!(curator("near_duplicates = { bands = 16, rows = 8 }\n"), Some((16, 8)));
    // One given: the other fills the permutations.
    assert_eq!(curator("near_duplicates = { bands = 20 }\n"), Some((20, 6)));
    assert_eq!(curator("near_duplicates = { rows = 5 }\n"), Some((25, 5)));
    assert_eq!(curator("near_duplicates = false\n"), None);
}
