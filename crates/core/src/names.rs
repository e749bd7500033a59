//! [`NameMap`]: values by name, in a vector sorted by name.
//!
//! The maps the tracker keeps hold a handful of entries (a visitor's behaviours, a
//! custom event's properties). `BTreeMap` cost the tracker's WebAssembly about
//! 4.5 KB of node code for them; a sorted vector does the same job with a binary
//! search and `Vec`'s own code, which the tracker links anyway. The map iterates
//! and serialises in name order, as `BTreeMap` did, so the wire and the stored
//! profiles are unchanged.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// Values by name, each name once, iterated in name order.
#[derive(Clone, PartialEq, Eq)]
pub struct NameMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> NameMap<V> {
    pub const fn new() -> NameMap<V> {
        NameMap {
            entries: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        let index = self.position(name).ok()?;
        self.entries.get(index).map(|(_, value)| value)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets the value of `name`, returning the one it replaced.
    pub fn insert(&mut self, name: String, value: V) -> Option<V> {
        match self.position(&name) {
            Ok(index) => Some(core::mem::replace(&mut self.entries[index].1, value)),
            Err(index) => {
                self.entries.insert(index, (name, value));
                None
            }
        }
    }

    /// The value of `name`, a default one added first if there is none.
    pub fn get_or_default(&mut self, name: &str) -> &mut V
    where
        V: Default,
    {
        let index = match self.position(name) {
            Ok(index) => index,
            Err(index) => {
                self.entries
                    .insert(index, (String::from(name), V::default()));
                index
            }
        };
        &mut self.entries[index].1
    }

    /// Keeps only the entries for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut V) -> bool) {
        self.entries.retain_mut(|(name, value)| keep(name, value));
    }

    /// The entries in name order.
    pub fn iter(&self) -> Entries<'_, V> {
        self.entries.iter().map(as_pair)
    }

    /// The values in name order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(entry, _)| entry.as_str().cmp(name))
    }
}

/// The iterator over a map's entries, in name order.
pub type Entries<'a, V> =
    core::iter::Map<core::slice::Iter<'a, (String, V)>, fn(&'a (String, V)) -> (&'a String, &'a V)>;

fn as_pair<V>((name, value): &(String, V)) -> (&String, &V) {
    (name, value)
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap::new()
    }
}

/// The value of a name the map holds; panics otherwise, as `BTreeMap` does.
impl<V> core::ops::Index<&str> for NameMap<V> {
    type Output = V;

    fn index(&self, name: &str) -> &V {
        self.get(name).expect("no entry of this name")
    }
}

impl<'a, V> IntoIterator for &'a NameMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = Entries<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// As with `BTreeMap`, a name given twice keeps its last value.
impl<V> FromIterator<(String, V)> for NameMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(entries: I) -> Self {
        let mut map = NameMap::new();
        for (name, value) in entries {
            map.insert(name, value);
        }
        map
    }
}

impl<V, const N: usize> From<[(String, V); N]> for NameMap<V> {
    fn from(entries: [(String, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V: fmt::Debug> fmt::Debug for NameMap<V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

/// A JSON object (any map, in other formats), as `BTreeMap` writes one.
impl<V: Serialize> Serialize for NameMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for NameMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(NameMapVisitor(PhantomData))
    }
}

struct NameMapVisitor<V>(PhantomData<V>);

impl<'de, V: Deserialize<'de>> Visitor<'de> for NameMapVisitor<V> {
    type Value = NameMap<V>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map of names to values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = NameMap::new();
        while let Some((name, value)) = access.next_entry::<String, V>()? {
            map.insert(name, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_names_sorted_and_once() {
        let mut map = NameMap::new();
        for (name, value) in [("b", 2), ("a", 1), ("c", 3), ("a", 10)] {
            map.insert(name.into(), value);
        }
        *map.get_or_default("d") += 4;
        *map.get_or_default("b") += 20;
        map.retain(|name, _| name != "c");

        let entries: Vec<(&str, i32)> = map.iter().map(|(name, v)| (name.as_str(), *v)).collect();
        assert_eq!(entries, [("a", 10), ("b", 22), ("d", 4)]);
        assert_eq!(map.get("b"), Some(&22));
        assert!(!map.contains_key("c"));
    }

    #[test]
    fn serialises_like_a_btree_map() {
        let map = NameMap::from([("plan".to_owned(), 2), ("seats".to_owned(), 12)]);
        let ordered: std::collections::BTreeMap<String, i32> = map
            .iter()
            .map(|(name, value)| (name.clone(), *value))
            .collect();
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, serde_json::to_string(&ordered).unwrap());
        assert_eq!(serde_json::from_str::<NameMap<i32>>(&json).unwrap(), map);
    }
}
