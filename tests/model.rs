//! Model-based property tests: random sequences of operations run on a [`Store`] and on a
//! `BTreeMap` model, compared after every step.
//!
//! Ids and names come from small pools so that operations collide: many ids share one name
//! (the same name index home), names are replaced by themselves, users are removed and put
//! back. One test grows the store well past several table resizes and then deletes most of it.

use std::collections::BTreeMap;

use proptest::prelude::*;
use userstore::Store;

/// Names from a small pool: short (inline), exactly 15 and 16 bytes (the inline limit), long
/// (arena), with NUL and non-ASCII.
fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..6).prop_map(|k| format!("n{k}")),
        (0u8..3).prop_map(|k| format!("exactly-15-byt{k}")),
        (0u8..3).prop_map(|k| format!("exactly-16-byte{k}")),
        (0u8..3).prop_map(|k| format!("a long name that lives in the arena, number {k}")),
        Just("\0".to_owned()),
        Just("Zoë 😀".to_owned()),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Put(i64, String),
    Remove(i64),
    Get(i64),
    FindByName(String),
    Import(Vec<(i64, String)>),
    ReplaceAll(Vec<(i64, String)>),
    GetMany(Vec<i64>),
    Batch(Vec<(i64, String)>, Vec<i64>),
    Scan(i64, usize),
}

fn id_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 0i64..64, 1 => Just(i64::MAX), 1 => any::<i64>().prop_map(|x| x & i64::MAX)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let users = || prop::collection::vec((id_strategy(), name_strategy()), 0..20);
    prop_oneof![
        10 => (id_strategy(), name_strategy()).prop_map(|(id, n)| Op::Put(id, n)),
        6 => id_strategy().prop_map(Op::Remove),
        4 => id_strategy().prop_map(Op::Get),
        3 => name_strategy().prop_map(Op::FindByName),
        1 => users().prop_map(Op::Import),
        1 => users().prop_map(Op::ReplaceAll),
        2 => prop::collection::vec(id_strategy(), 0..40).prop_map(Op::GetMany),
        2 => (users(), prop::collection::vec(id_strategy(), 0..20))
            .prop_map(|(puts, removes)| Op::Batch(puts, removes)),
        2 => (id_strategy(), 0usize..80).prop_map(|(from, limit)| Op::Scan(from, limit)),
    ]
}

fn to_json(users: &[(i64, String)]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = users
        .iter()
        .map(|(id, name)| serde_json::json!({ "id": id, "name": name }))
        .collect();
    serde_json::to_vec(&records).unwrap()
}

/// Compares everything observable about `store` with `model`.
fn assert_same(store: &Store, model: &BTreeMap<u64, String>) {
    assert_eq!(store.len(), model.len() as u64);
    let mut seen = Vec::new();
    store.for_each_sorted(|id, name| seen.push((id, name.to_owned())));
    let expected: Vec<(u64, String)> = model.iter().map(|(&i, n)| (i, n.clone())).collect();
    assert_eq!(seen, expected);
}

fn find_in_model(model: &BTreeMap<u64, String>, name: &str) -> Vec<u64> {
    model
        .iter()
        .filter(|(_, n)| n.as_str() == name)
        .map(|(&id, _)| id)
        .collect()
}

proptest! {
    #[test]
    fn store_behaves_like_a_btreemap(ops in prop::collection::vec(op_strategy(), 1..120)) {
        let store = Store::new();
        let mut model: BTreeMap<u64, String> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(id, name) => {
                    store.put(id, name.as_bytes()).unwrap();
                    model.insert(id as u64, name);
                }
                Op::Remove(id) => {
                    prop_assert_eq!(store.remove(id).unwrap(), model.remove(&(id as u64)).is_some());
                }
                Op::Get(id) => {
                    prop_assert_eq!(store.get(id).unwrap(), model.get(&(id as u64)).cloned());
                }
                Op::FindByName(name) => {
                    prop_assert_eq!(store.find_by_name(name.as_bytes()).unwrap(), find_in_model(&model, &name));
                }
                Op::Import(users) => {
                    prop_assert_eq!(store.import_json(&to_json(&users)).unwrap(), users.len());
                    for (id, name) in users {
                        model.insert(id as u64, name);
                    }
                }
                Op::ReplaceAll(users) => {
                    store.replace_all(users.iter().map(|(i, n)| (*i as u64, n.clone())).collect()).unwrap();
                    model = users.into_iter().map(|(i, n)| (i as u64, n)).collect();
                }
                Op::GetMany(ids) => {
                    let mut got = Vec::new();
                    store.get_many_with(&ids, |i, name| got.push((i, name.map(str::to_owned)))).unwrap();
                    let expected: Vec<(usize, Option<String>)> = ids
                        .iter()
                        .enumerate()
                        .map(|(i, id)| (i, model.get(&(*id as u64)).cloned()))
                        .collect();
                    prop_assert_eq!(got, expected);
                }
                Op::Batch(puts, removes) => {
                    let result = store.apply_batch(&puts, &removes);
                    if removes.iter().any(|r| puts.iter().any(|(p, _)| p == r)) {
                        // An id both put and removed: refused, the model unchanged.
                        prop_assert!(result.is_err());
                    } else {
                        for (id, name) in puts {
                            model.insert(id as u64, name);
                        }
                        let mut removed = 0;
                        for id in removes {
                            removed += usize::from(model.remove(&(id as u64)).is_some());
                        }
                        prop_assert_eq!(result.unwrap(), removed);
                    }
                }
                Op::Scan(from, limit) => {
                    let expected: Vec<(u64, String)> = model
                        .range(from as u64..)
                        .take(limit)
                        .map(|(&id, n)| (id, n.clone()))
                        .collect();
                    prop_assert_eq!(store.scan(from, limit).unwrap(), expected);
                }
            }
        }
        assert_same(&store, &model);
        for name in ["n0", "n1", "\0", "Zoë 😀", "exactly-16-byte0"] {
            prop_assert_eq!(store.find_by_name(name.as_bytes()).unwrap(), find_in_model(&model, name));
        }
    }
}

proptest! {
    // Each case puts 20 000 users: a few cases cover growth and shrinking well enough.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn growth_then_deletion_heavy(
        seed in any::<u64>(),
        keep_every in 2u64..12,
    ) {
        let store = Store::new();
        let mut model = BTreeMap::new();
        // Enough users to resize every shard several times; few names, so clusters are long.
        let n = 20_000u64;
        let id_of = |k: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed) & (i64::MAX as u64);
        for k in 0..n {
            let name = if k % 5 == 0 { format!("a long name shared by many users {}", k % 3) } else { format!("n{}", k % 7) };
            store.put(id_of(k) as i64, name.as_bytes()).unwrap();
            model.insert(id_of(k), name);
        }
        assert_same(&store, &model);
        for k in 0..n {
            if k % keep_every != 0 {
                prop_assert!(store.remove(id_of(k) as i64).unwrap());
                model.remove(&id_of(k));
            }
        }
        // Remove-then-reinsert with the same and with a different name.
        for k in (0..n).step_by(3) {
            let name = format!("n{}", k % 4);
            store.put(id_of(k) as i64, name.as_bytes()).unwrap();
            model.insert(id_of(k), name);
        }
        assert_same(&store, &model);
        for name in ["n0", "n3", "a long name shared by many users 1"] {
            prop_assert_eq!(store.find_by_name(name.as_bytes()).unwrap(), find_in_model(&model, name));
        }
    }
}
