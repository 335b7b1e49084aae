//! Integration tests of the store's methods: ids, names, the name index and the JSON it writes
//! (`docs/RULES.md`, sections "Ids", "Names" and "JSON written").

use userstore::core::write_json_string;
use userstore::{Store, StoreError};

fn json(store: &Store, id: i64) -> Option<String> {
    let mut out = Vec::new();
    let found = store.write_json(id, &mut out).unwrap();
    assert_eq!(found, !out.is_empty());
    found.then(|| String::from_utf8(out).unwrap())
}

#[test]
fn put_get_replace_remove() {
    let store = Store::new();
    assert!(store.is_empty());
    assert_eq!(store.get(1).unwrap(), None);
    store.put(1, "Ada".as_bytes()).unwrap();
    store.put(2, "Grace".as_bytes()).unwrap();
    assert_eq!(store.len(), 2);
    assert!(!store.is_empty());
    assert_eq!(store.get(1).unwrap().as_deref(), Some("Ada"));
    store.put(1, "Alan".as_bytes()).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.get(1).unwrap().as_deref(), Some("Alan"));
    assert!(store.remove(1).unwrap());
    assert!(!store.remove(1).unwrap());
    assert_eq!(store.get(1).unwrap(), None);
    assert_eq!(store.len(), 1);
}

#[test]
fn get_with_calls_only_when_present() {
    let store = Store::new();
    store.put(5, "five".as_bytes()).unwrap();
    assert_eq!(store.get_with(5, str::len).unwrap(), Some(4));
    assert_eq!(
        store
            .get_with(6, |_| -> usize { panic!("not called") })
            .unwrap(),
        None
    );
}

#[test]
fn replace_updates_the_name_index() {
    let store = Store::new();
    store.put(3, "x".as_bytes()).unwrap();
    store.put(1, "x".as_bytes()).unwrap();
    store.put(2, "y".as_bytes()).unwrap();
    assert_eq!(store.find_by_name("x".as_bytes()).unwrap(), vec![1, 3]);
    store.put(3, "y".as_bytes()).unwrap();
    assert_eq!(store.find_by_name("x".as_bytes()).unwrap(), vec![1]);
    assert_eq!(store.find_by_name("y".as_bytes()).unwrap(), vec![2, 3]);
    store.remove(1).unwrap();
    assert_eq!(
        store.find_by_name("x".as_bytes()).unwrap(),
        Vec::<u64>::new()
    );
}

#[test]
fn find_by_name_is_exact_and_sorted() {
    let store = Store::new();
    for id in [50, 7, i64::MAX, 0, 12] {
        store.put(id, "Zoë".as_bytes()).unwrap();
    }
    store.put(8, "zoë".as_bytes()).unwrap();
    store.put(9, "Zoe\u{308}".as_bytes()).unwrap(); // same text, other normalisation
    store.put(10, "Zoë ".as_bytes()).unwrap();
    assert_eq!(
        store.find_by_name("Zoë".as_bytes()).unwrap(),
        vec![0, 7, 12, 50, i64::MAX as u64]
    );
    assert_eq!(store.find_by_name("zoë".as_bytes()).unwrap(), vec![8]);
    assert_eq!(
        store.find_by_name("Zoe\u{308}".as_bytes()).unwrap(),
        vec![9]
    );
    assert_eq!(
        store.find_by_name("nobody".as_bytes()).unwrap(),
        Vec::<u64>::new()
    );
}

#[test]
fn find_by_name_validates_the_query() {
    let store = Store::new();
    assert!(matches!(
        store.find_by_name(b""),
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.find_by_name("x".repeat(257).as_bytes()),
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.find_by_name(b"\xed\xa0\x80"),
        Err(StoreError::InvalidName(_))
    ));
    assert_eq!(
        store.find_by_name("x".repeat(256).as_bytes()).unwrap(),
        Vec::<u64>::new()
    );
}

#[test]
fn nul_and_emoji_round_trip() {
    let store = Store::new();
    let name = "a\0b😀\u{10FFFF}";
    store.put(1, name.as_bytes()).unwrap();
    assert_eq!(store.get(1).unwrap().as_deref(), Some(name));
    assert_eq!(store.find_by_name(name.as_bytes()).unwrap(), vec![1]);
    assert_eq!(
        json(&store, 1).as_deref(),
        Some("{\"id\":1,\"name\":\"a\\u0000b😀\u{10FFFF}\"}")
    );
    // And back in through import.
    let exported = store.export_json();
    let other = Store::new();
    assert_eq!(other.import_json(&exported).unwrap(), 1);
    assert_eq!(other.get(1).unwrap().as_deref(), Some(name));
    store.put(2, "\0".as_bytes()).unwrap();
    assert_eq!(store.get(2).unwrap().as_deref(), Some("\0"));
}

#[test]
fn name_length_limits_in_code_points() {
    let store = Store::new();
    store.put(1, "😀".repeat(256).as_bytes()).unwrap();
    assert_eq!(store.get(1).unwrap().unwrap().chars().count(), 256);
    store.put(2, "a".repeat(256).as_bytes()).unwrap();
    store.put(3, "😀".as_bytes()).unwrap();
    let err = store.put(4, "😀".repeat(257).as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid name: the name is too long: 257 code points (at most 256)"
    );
    assert!(matches!(
        store.put(4, "a".repeat(257).as_bytes()),
        Err(StoreError::InvalidName(_))
    ));
    assert_eq!(store.len(), 3);
}

#[test]
fn empty_name_is_rejected() {
    let store = Store::new();
    store.put(1, b"a").unwrap();
    let err = store.put(1, b"").unwrap_err();
    assert_eq!(err.to_string(), "invalid name: the name is empty");
    assert_eq!(store.get(1).unwrap().as_deref(), Some("a"));
}

#[test]
fn invalid_utf8_name_is_rejected() {
    let store = Store::new();
    for bad in [
        &b"\xff"[..],
        b"a\xc3",            // truncated sequence
        b"\xed\xa0\x80",     // an encoded surrogate
        b"\xc0\x80",         // overlong NUL
        b"\xf4\x90\x80\x80", // beyond U+10FFFF
    ] {
        let err = store.put(1, bad).unwrap_err();
        assert!(matches!(err, StoreError::InvalidName(_)), "{bad:?}");
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }
    assert!(store.is_empty());
}

#[test]
fn negative_ids_are_rejected_everywhere() {
    let store = Store::new();
    store.put(0, b"zero").unwrap();
    for id in [-1, i64::MIN] {
        assert_eq!(store.put(id, b"a"), Err(StoreError::InvalidId(id)));
        assert_eq!(store.get(id), Err(StoreError::InvalidId(id)));
        assert_eq!(store.get_with(id, |_| ()), Err(StoreError::InvalidId(id)));
        assert_eq!(store.remove(id), Err(StoreError::InvalidId(id)));
        let mut out = b"keep".to_vec();
        assert_eq!(
            store.write_json(id, &mut out),
            Err(StoreError::InvalidId(id))
        );
        assert_eq!(out, b"keep");
    }
    assert!(StoreError::InvalidId(-1).to_string().contains("-1"));
    assert_eq!(store.len(), 1);
}

#[test]
fn extreme_ids() {
    let store = Store::new();
    store.put(i64::MAX, b"max").unwrap();
    store.put(0, b"zero").unwrap();
    assert_eq!(store.get(i64::MAX).unwrap().as_deref(), Some("max"));
    assert_eq!(
        json(&store, i64::MAX).as_deref(),
        Some(r#"{"id":9223372036854775807,"name":"max"}"#)
    );
    assert_eq!(
        store.export_json(),
        br#"[{"id":0,"name":"zero"},{"id":9223372036854775807,"name":"max"}]"#
    );
}

#[test]
fn write_json_escapes_like_serde_json() {
    let store = Store::new();
    let controls: String = (0u8..0x20).map(char::from).collect();
    let name = format!("{controls}\"\\\u{7f}/😀é");
    store.put(1, name.as_bytes()).unwrap();
    let expected = concat!(
        r#"{"id":1,"name":""#,
        r#"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
        r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#,
        "\\\"\\\\\u{7f}/😀é\"}"
    );
    assert_eq!(json(&store, 1).as_deref(), Some(expected));
    // The same as serde_json would write.
    let reference = format!(
        r#"{{"id":1,"name":{}}}"#,
        serde_json::to_string(&name).unwrap()
    );
    assert_eq!(expected, reference);
}

#[test]
fn write_json_appends_and_leaves_out_untouched_when_missing() {
    let store = Store::new();
    store.put(2, b"b").unwrap();
    let mut out = b"prefix:".to_vec();
    assert!(!store.write_json(1, &mut out).unwrap());
    assert_eq!(out, b"prefix:");
    assert!(store.write_json(2, &mut out).unwrap());
    assert_eq!(out, br#"prefix:{"id":2,"name":"b"}"#);
}

#[test]
fn write_json_string_is_public() {
    let mut out = Vec::new();
    write_json_string(&mut out, "\u{1f}\n");
    assert_eq!(out, br#""\u001f\n""#);
}

#[test]
fn export_is_sorted_by_id() {
    let store = Store::new();
    assert_eq!(store.export_json(), b"[]");
    for id in [30, 4, 1000, 0, 17] {
        store.put(id, format!("n{id}").as_bytes()).unwrap();
    }
    assert_eq!(
        String::from_utf8(store.export_json()).unwrap(),
        r#"[{"id":0,"name":"n0"},{"id":4,"name":"n4"},{"id":17,"name":"n17"},{"id":30,"name":"n30"},{"id":1000,"name":"n1000"}]"#
    );
    for id in [30, 4, 1000, 0, 17] {
        store.remove(id).unwrap();
    }
    assert_eq!(store.export_json(), b"[]");
}

#[test]
fn export_is_what_serde_json_writes() {
    let store = Store::new();
    for id in 0..300i64 {
        let name: String = (0..=(id as u32 % 40))
            .filter_map(|k| char::from_u32(k * 37 + id as u32))
            .collect();
        store.put(id * 7919 % 1009, name.as_bytes()).unwrap();
    }
    let exported = store.export_json();
    let value: serde_json::Value = serde_json::from_slice(&exported).unwrap();
    assert_eq!(serde_json::to_vec(&value).unwrap(), exported);
    let ids: Vec<u64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(ids.len() as u64, store.len());
}

#[test]
fn store_is_send_sync_default() {
    fn assert_traits<T: Send + Sync + Default>() {}
    assert_traits::<Store>();
}
