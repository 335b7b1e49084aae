//! Integration tests of `import_json` against every rule of "JSON read" in `docs/RULES.md`.
//! Every rejected input must leave the store exactly as it was.

use userstore::{Store, StoreError};

/// A store with a few users, so "unchanged" means something.
fn seeded() -> Store {
    let store = Store::new();
    store.put(1, "one".as_bytes()).unwrap();
    store.put(2, "two".as_bytes()).unwrap();
    store.put(i64::MAX, "max".as_bytes()).unwrap();
    store
}

/// Asserts that importing `json` fails with `InvalidJson` and changes nothing; returns the error.
#[track_caller]
fn rejected(json: impl AsRef<[u8]>) -> StoreError {
    let json = json.as_ref();
    let store = seeded();
    let before = store.export_json();
    let err = match store.import_json(json) {
        Ok(count) => panic!(
            "accepted ({count} records): {:?}",
            String::from_utf8_lossy(json)
        ),
        Err(err) => err,
    };
    assert!(
        matches!(err, StoreError::InvalidJson { .. }),
        "{err:?} for {:?}",
        String::from_utf8_lossy(json)
    );
    assert_eq!(store.export_json(), before, "the store changed");
    assert_eq!(store.len(), 3);
    assert_eq!(store.find_by_name("one".as_bytes()).unwrap(), vec![1]);
    err
}

/// Asserts that importing `json` into an empty store succeeds; returns the store and count.
#[track_caller]
fn accepted(json: impl AsRef<[u8]>) -> (Store, usize) {
    let json = json.as_ref();
    let store = Store::new();
    match store.import_json(json) {
        Ok(count) => (store, count),
        Err(err) => panic!("{err} for {:?}", String::from_utf8_lossy(json)),
    }
}

/// One record with `id` and `name` written as raw JSON text.
fn record(id: &str, name: &str) -> String {
    format!(r#"[{{"id":{id},"name":{name}}}]"#)
}

#[track_caller]
fn index_of(err: &StoreError) -> Option<usize> {
    match err {
        StoreError::InvalidJson { index, .. } => *index,
        other => panic!("not InvalidJson: {other:?}"),
    }
}

// ---- Successful imports -------------------------------------------------------------------

#[test]
fn imports_and_counts_records() {
    let store = seeded();
    let count = store
        .import_json(br#"[{"id":2,"name":"deux"},{"id":3,"name":"three"}]"#)
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(store.len(), 4);
    assert_eq!(store.get(2).unwrap().as_deref(), Some("deux"));
    assert_eq!(store.get(3).unwrap().as_deref(), Some("three"));
    assert_eq!(
        store.find_by_name("two".as_bytes()).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(store.find_by_name("deux".as_bytes()).unwrap(), vec![2]);
}

#[test]
fn empty_array_imports_nothing() {
    let store = seeded();
    let before = store.export_json();
    assert_eq!(store.import_json(b"[]").unwrap(), 0);
    assert_eq!(store.import_json(b" \t\r\n[ \n ] \r\n\t").unwrap(), 0);
    assert_eq!(store.export_json(), before);
}

#[test]
fn later_duplicate_id_wins_and_both_count() {
    let (store, count) =
        accepted(r#"[{"id":5,"name":"first"},{"id":6,"name":"x"},{"id":5,"name":"second"}]"#);
    assert_eq!(count, 3);
    assert_eq!(store.len(), 2);
    assert_eq!(store.get(5).unwrap().as_deref(), Some("second"));
    assert_eq!(
        store.find_by_name("first".as_bytes()).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(store.find_by_name("second".as_bytes()).unwrap(), vec![5]);
}

#[test]
fn json_whitespace_is_allowed_everywhere() {
    let (store, count) =
        accepted(" \t\n\r[ \t\n\r{ \"name\" \n: \"a\" , \"id\"\r: 7 } \t, {\"id\":8,\"name\":\"b\"}\n]\n\t \r");
    assert_eq!(count, 2);
    assert_eq!(store.get(7).unwrap().as_deref(), Some("a"));
}

#[test]
fn id_limits() {
    let (store, _) = accepted(record("0", r#""zero""#));
    assert_eq!(store.get(0).unwrap().as_deref(), Some("zero"));
    let (store, _) = accepted(record("9223372036854775807", r#""max""#));
    assert_eq!(store.get(i64::MAX).unwrap().as_deref(), Some("max"));
}

#[test]
fn names_are_unescaped() {
    let (store, _) = accepted(record(
        "1",
        r#""\"\\\/\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude00 raw é😀""#,
    ));
    assert_eq!(
        store.get(1).unwrap().as_deref(),
        Some("\"\\/\u{8}\u{c}\n\r\t\0é€😀 raw é😀")
    );
}

#[test]
fn escaped_keys_are_the_same_keys() {
    let (store, count) = accepted(r#"[{"\u0069d":5,"n\u0061\u006De":"x"}]"#);
    assert_eq!(count, 1);
    assert_eq!(store.get(5).unwrap().as_deref(), Some("x"));
}

#[test]
fn surrogate_pair_escape_is_one_code_point() {
    // 256 pairs: 256 code points, accepted.
    let (store, _) = accepted(record("1", &format!("\"{}\"", r"\ud83d\ude00".repeat(256))));
    assert_eq!(store.get(1).unwrap().unwrap(), "😀".repeat(256));
    // 257 pairs: too long.
    rejected(record("1", &format!("\"{}\"", r"\ud83d\ude00".repeat(257))));
}

#[test]
fn name_of_256_code_points_is_accepted() {
    let (store, _) = accepted(record("1", &format!("\"{}\"", "é".repeat(256))));
    assert_eq!(store.get(1).unwrap().unwrap().chars().count(), 256);
}

#[test]
fn unknown_fields_are_ignored() {
    let json = concat!(
        r#"[{"before":{"a":[1,{"b":null}],"c":{}},"id":1,"#,
        r#""big":123456789012345678901234567890123456789e999999,"neg":-0.5e-7,"#,
        r#""lone":"\ud800 \udc00 \udfff\ud800","esc":"\u0000\/\"","t":true,"f":false,"n":null,"#,
        r#""name":"a","after":[[],[[]],{"id":"not an id","name":5}],"ID":-1,"Name":1,"#,
        r#""\ud800":0,"\udc00x":0,"":0,"id ":0}]"#
    );
    let (store, count) = accepted(json);
    assert_eq!(count, 1);
    assert_eq!(store.export_json(), br#"[{"id":1,"name":"a"}]"#);
}

#[test]
fn depth_128_is_accepted_inside_an_ignored_field() {
    // The top-level array (1) and the record object (2) plus 126 arrays = 128 levels.
    let arrays = format!(
        r#"[{{"id":1,"name":"a","x":{}{}}}]"#,
        "[".repeat(126),
        "]".repeat(126)
    );
    assert_eq!(accepted(&arrays).1, 1);
    // The same with objects.
    let objects = format!(
        r#"[{{"id":1,"name":"a","x":{}1{}}}]"#,
        r#"{"k":"#.repeat(126),
        "}".repeat(126)
    );
    assert_eq!(accepted(&objects).1, 1);
}

#[test]
fn depth_129_is_rejected() {
    let arrays = format!(
        r#"[{{"id":1,"name":"a","x":{}{}}}]"#,
        "[".repeat(127),
        "]".repeat(127)
    );
    let err = rejected(&arrays);
    assert_eq!(index_of(&err), Some(0));
    assert!(err.to_string().contains("deeper than 128"), "{err}");
    let objects = format!(
        r#"[{{"id":1,"name":"a"}},{{"id":2,"name":"b","x":{}1{}}}]"#,
        r#"{"k":"#.repeat(127),
        "}".repeat(127)
    );
    assert_eq!(index_of(&rejected(&objects)), Some(1));
}

#[test]
fn depth_is_counted_from_the_top_level() {
    // 128 nested arrays at the top level: elements are arrays, rejected by rule 4, not depth.
    rejected(format!("{}{}", "[".repeat(128), "]".repeat(128)));
    // Very deep input is rejected without exhausting the stack.
    rejected(format!(
        r#"[{{"id":1,"name":"a","x":{}{}}}]"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    rejected("[".repeat(100_000));
}

#[test]
fn brackets_inside_strings_do_not_count_as_depth() {
    let (store, _) = accepted(format!(
        r#"[{{"id":1,"name":"{}","x":"{}\"\\"}}]"#,
        "[".repeat(200),
        "{".repeat(200)
    ));
    assert_eq!(store.get(1).unwrap().unwrap(), "[".repeat(200));
}

// ---- Rule 1: UTF-8 ------------------------------------------------------------------------

#[test]
fn byte_order_mark_is_rejected() {
    rejected(b"\xef\xbb\xbf[]");
    rejected(b"\xef\xbb\xbf[{\"id\":1,\"name\":\"a\"}]");
}

#[test]
fn invalid_utf8_is_rejected_even_inside_an_ignored_string() {
    let err = rejected(b"[{\"id\":1,\"name\":\"a\",\"x\":\"\xff\"}]");
    assert_eq!(index_of(&err), Some(0));
    assert!(err.to_string().contains("UTF-8"), "{err}");
    rejected(b"[{\"id\":1,\"name\":\"a\",\"x\":\"\xed\xa0\x80\"}]"); // encoded surrogate
    rejected(b"[{\"id\":1,\"name\":\"a\",\"x\":\"\xc3\"}]"); // truncated
    rejected(b"[{\"id\":1,\"name\":\"\xc0\x80\"}]"); // overlong
    rejected(b"[{\"id\":1,\"name\":\"a\"}]\xff");
}

// ---- Rule 2: syntax -----------------------------------------------------------------------

#[test]
fn malformed_input_is_rejected() {
    for json in [
        "",
        " ",
        "[",
        "]",
        "[{",
        r#"[{"id":1,"name":"a"}"#,
        r#"[{"id":1,"name":"a"]"#,
        r#"[{"id":1 "name":"a"}]"#,
        r#"[{"id" 1,"name":"a"}]"#,
        r#"[{"id":1,"name":"a"} {"id":2,"name":"b"}]"#,
        r#"[{"id":1,"name":"a}]"#,
        r#"[{id:1,"name":"a"}]"#,
        r#"[{'id':1,'name':'a'}]"#,
        r#"[{"id":1,"name":"a"}] x"#,
        r#"[][]"#,
        r#"[]]"#,
        r#"[{"id":1,"name":"a","x":NaN}]"#,
        r#"[{"id":1,"name":"a","x":Infinity}]"#,
        r#"[{"id":1,"name":"a","x":01}]"#,
        r#"[{"id":01,"name":"a"}]"#,
        r#"[{"id":1,"name":"a","x":-}]"#,
        r#"[{"id":1,"name":"a","x":-01}]"#,
        r#"[{"id":1,"name":"a","x":1e}]"#,
        r#"[{"id":1,"name":"a","x":1e+}]"#,
        r#"[{"id":1,"name":"a","x":1.e5}]"#,
        r#"[{"id":1,"name":"a","x":0x10}]"#,
        r#"[{"id":1,"name":"a","\x":1}]"#,
        r#"[{"id":1,"name":"a","\ud8":1}]"#,
        r#"[{"id":1,"name":"a",1:1}]"#,
        r#"[{"id":1,"name":"a",null:1}]"#,
        r#"[{"id":1,"name":"a","x":1.}]"#,
        r#"[{"id":1,"name":"a","x":.5}]"#,
        r#"[{"id":1,"name":"a","x":+1}]"#,
        r#"[{"id":1,"name":"a","x":"\x"}]"#,
        r#"[{"id":1,"name":"a","x":"\u12"}]"#,
        r#"[{"id":1,"name":"a","x":"\u12G4"}]"#,
        r#"[{"id":1,"name":"a","x":tru}]"#,
        r#"[{"id":1,"name":"a","x":nul}]"#,
        r#"[{"id":1,"name":"a","x":True}]"#,
        r#"[{"id":1,"name":"a"}] // comment"#,
        r#"/* c */ [{"id":1,"name":"a"}]"#,
        r#"[{"id":1,/* c */"name":"a"}]"#,
        "[{\"id\":1,\"name\":\"a\"}]\u{c}",
        "\u{a0}[]",
        "[]\u{0}",
    ] {
        rejected(json);
    }
}

#[test]
fn trailing_commas_are_rejected() {
    rejected(r#"[{"id":1,"name":"a"},]"#);
    rejected(r#"[{"id":1,"name":"a",}]"#);
    rejected(r#"[{"id":1,"name":"a","x":[1,]}]"#);
    rejected(r#"[{"id":1,"name":"a","x":{"y":1,}}]"#);
    rejected(r#"[,]"#);
    rejected(r#"[,{"id":1,"name":"a"}]"#);
}

#[test]
fn raw_control_characters_in_strings_are_rejected() {
    for c in (0u8..0x20).map(char::from) {
        rejected(record("1", &format!("\"a{c}b\"")));
        rejected(format!(r#"[{{"id":1,"name":"a","x":"{c}"}}]"#));
        // In an ignored key too.
        let err = rejected(format!(r#"[{{"id":1,"name":"a","k{c}":1}}]"#));
        assert_eq!(index_of(&err), Some(0), "{err}");
    }
    // U+007F is not a control character for JSON.
    let (store, _) = accepted(record("1", "\"a\u{7f}\""));
    assert_eq!(store.get(1).unwrap().as_deref(), Some("a\u{7f}"));
}

// ---- Rule 4: shape ------------------------------------------------------------------------

#[test]
fn top_level_must_be_an_array() {
    for json in [
        r#"{"id":1,"name":"a"}"#,
        r#"{}"#,
        r#""[]""#,
        "1",
        "null",
        "true",
    ] {
        let err = rejected(json);
        assert_eq!(index_of(&err), None, "{err}");
    }
}

#[test]
fn elements_must_be_objects() {
    for element in ["1", "null", "true", r#""x""#, "[]", r#"[1,"a"]"#] {
        let err = rejected(format!(r#"[{{"id":1,"name":"a"}},{element}]"#));
        assert_eq!(index_of(&err), Some(1), "{err}");
    }
}

// ---- Rule 5: duplicate keys ---------------------------------------------------------------

#[test]
fn duplicate_keys_are_rejected() {
    for json in [
        r#"[{"id":1,"id":1,"name":"a"}]"#,
        r#"[{"id":1,"name":"a","name":"a"}]"#,
        r#"[{"id":1,"name":"a","\u0069d":2}]"#,
        r#"[{"\u0069\u0064":1,"name":"a","id":2}]"#,
        r#"[{"id":1,"n\u0061me":"b","name":"a"}]"#,
        r#"[{"id":1,"name":"a","x":1,"x":1}]"#,
        r#"[{"id":1,"name":"a","x":1,"\u0078":2}]"#,
        r#"[{"id":1,"name":"a","":1,"":2}]"#,
        r#"[{"id":1,"name":"a","😀":1,"\ud83d\ude00":2}]"#,
        r#"[{"id":1,"name":"a","\ud800":1,"\ud800":2}]"#,
        r#"[{"id":1,"name":"a","\/":1,"/":2}]"#,
    ] {
        let err = rejected(json);
        assert_eq!(index_of(&err), Some(0), "{err}");
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }
    // Keys that only look alike are different keys.
    accepted(r#"[{"id":1,"name":"a","x":1,"X":2,"x ":3,"\ud800":4,"\udc00":5,"\ud800\udc00":6}]"#);
}

#[test]
fn duplicate_key_in_a_nested_ignored_object_is_allowed() {
    // Rule 5 concerns record objects; values of ignored keys only need to be valid JSON.
    accepted(r#"[{"id":1,"name":"a","x":{"k":1,"k":2}}]"#);
}

// ---- Rule 6: required fields --------------------------------------------------------------

#[test]
fn missing_fields_are_rejected() {
    for json in [
        r#"[{}]"#,
        r#"[{"id":1}]"#,
        r#"[{"name":"a"}]"#,
        r#"[{"ID":1,"name":"a"}]"#,
        r#"[{"id":1,"Name":"a"}]"#,
        r#"[{"id":1,"x":{"name":"a"}}]"#,
    ] {
        let err = rejected(json);
        assert!(err.to_string().contains("missing key"), "{err}");
    }
}

// ---- Rule 7: id ---------------------------------------------------------------------------

#[test]
fn ids_that_are_not_plain_integers_are_rejected() {
    for id in [
        "-1",
        "-0",
        "1.0",
        "0.0",
        "1e3",
        "1E3",
        "1e0",
        "10e-1",
        "-9223372036854775808",
        r#""1""#,
        "null",
        "true",
        "[1]",
        r#"{"v":1}"#,
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999",
    ] {
        let err = rejected(record(id, r#""a""#));
        assert_eq!(index_of(&err), Some(0), "{err}");
        assert!(err.to_string().contains("\"id\""), "{id}: {err}");
    }
}

#[test]
fn id_error_in_a_later_record_names_it() {
    let err = rejected(r#"[{"id":1,"name":"a"},{"id":2,"name":"b"},{"id":-1,"name":"c"}]"#);
    assert_eq!(index_of(&err), Some(2));
    assert!(err.to_string().starts_with("record 2: "), "{err}");
}

// ---- Rule 8: name -------------------------------------------------------------------------

#[test]
fn names_that_are_not_strings_are_rejected() {
    for name in ["1", "null", "true", "[\"a\"]", r#"{"a":1}"#] {
        let err = rejected(record("1", name));
        assert!(err.to_string().contains("\"name\""), "{name}: {err}");
    }
}

#[test]
fn invalid_names_are_rejected() {
    rejected(record("1", r#""""#));
    rejected(record("1", &format!("\"{}\"", "a".repeat(257))));
    rejected(record("1", &format!("\"{}\"", "😀".repeat(257))));
    let err = rejected(record("1", &format!("\"{}\"", r"\u0061".repeat(257))));
    assert!(err.to_string().contains("257 code points"), "{err}");
}

#[test]
fn lone_surrogate_escapes_in_names_are_rejected() {
    for name in [
        r#""\ud800""#,
        r#""\uDBFF""#,
        r#""a\ud800b""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\ud800\n""#,
        r#""\udc00""#,
        r#""\uDFFF""#,
        r#""\udc00\ud800""#,
        r#""\ude00\ud83d""#,
        r#""😀\ude00""#,
    ] {
        let err = rejected(record("1", name));
        assert_eq!(index_of(&err), Some(0), "{err}");
    }
}

// ---- All or nothing -----------------------------------------------------------------------

#[test]
fn a_bad_last_record_rejects_the_whole_import() {
    let mut json = String::from("[");
    for id in 0..1000 {
        json.push_str(&format!(r#"{{"id":{id},"name":"n{id}"}},"#));
    }
    json.push_str(r#"{"id":1000,"name":""}]"#);
    let err = rejected(&json);
    assert_eq!(index_of(&err), Some(1000));
}

#[test]
fn an_error_after_the_array_rejects_the_whole_import() {
    rejected(r#"[{"id":10,"name":"a"}],"#);
    rejected(r#"[{"id":10,"name":"a"}] 1"#);
}
