//! Extra host entries (`extra_hosts`), kept as host → addresses and printed as Compose
//! prints them: one sorted `host=address` string per address.

use std::collections::BTreeMap;

use serde::Serializer;

pub type HostsList = BTreeMap<String, Vec<String>>;

pub(crate) fn serialize_as_list<S: Serializer>(
    hosts: &HostsList,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<String> = hosts
        .iter()
        .flat_map(|(host, addresses)| addresses.iter().map(move |a| format!("{host}={a}")))
        .collect();
    entries.sort();
    serializer.collect_seq(entries)
}
