//! What a save changes: the difference between the state being saved and what the store last
//! read or wrote ([`Seen`]), as the rows to upsert and delete ([`Write`]).
//!
//! Resources are compared record by record (or, when the caller says which it touched, only
//! those); the lists — deposed certificates and intents, always short — by the digest of each
//! entry's JSON, keeping every stored row that is still there where it is. Nothing here talks
//! to the database.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use certplan_core::Address;
use serde::Serialize;

use super::schema::{DEPOSED, INTENTS};
use certplan_state::{Clouds, ResourceState, State, StoredOutput};

/// What the store last read or wrote: the version the next save must find, and the rows, to
/// tell what a save changes.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    /// The workspace row's lineage and serial; `None` when there was no row.
    pub version: Option<(String, u64)>,
    resources: BTreeMap<Address, ResourceState>,
    /// Per list table, the rows in order.
    lists: [Vec<ListRow>; 2],
    outputs: BTreeMap<String, StoredOutput>,
    clouds: Clouds,
}

/// One row of a list table as stored.
#[derive(Debug, Clone)]
struct ListRow {
    position: i64,
    digest: String,
}

impl Seen {
    /// Describes `state` as stored, its list rows at `positions` (per list, in order).
    pub(super) fn of(state: &State, positions: [Vec<i64>; 2]) -> Self {
        let [deposed, intents] = positions;
        let rows = |items: Vec<(String, String, String)>, positions: Vec<i64>| {
            let rows = positions.into_iter().zip(items);
            rows.map(|(position, (_, digest, _))| ListRow { position, digest }).collect()
        };
        Seen {
            version: Some((state.lineage.clone(), state.serial)),
            resources: state.resources.clone(),
            lists: [
                rows(encode_list(&state.deposed, |d| &d.address), deposed),
                rows(encode_list(&state.intents, |i| &i.address), intents),
            ],
            outputs: state.outputs.clone(),
            clouds: state.clouds.clone(),
        }
    }
}

/// Everything a save or push sends to the database, owned, to move onto the session's thread.
#[derive(Debug)]
pub(super) struct Write {
    pub(super) workspace: String,
    pub(super) lineage: String,
    pub(super) serial: i64,
    pub(super) format_version: i32,
    pub(super) certplan_version: String,
    /// The version the save expects to find; `None`: no row.
    pub(super) expected: Option<(String, i64)>,
    /// The new clouds (JSON, or `None` for none), when they changed.
    pub(super) cloud: Option<Option<String>>,
    /// The new outputs (JSON), when they changed.
    pub(super) outputs: Option<String>,
    pub(super) upsert_addresses: Vec<String>,
    pub(super) upsert_records: Vec<String>,
    pub(super) delete_addresses: Vec<String>,
    pub(super) lists: [ListChange; 2],
}

/// What a save does to a list table.
#[derive(Debug, Clone)]
pub(super) enum ListChange {
    /// Delete the rows at these positions, then insert these.
    Edit { delete: Vec<i64>, insert: Vec<NewRow> },
    /// The order changed beyond what spare positions allow: replace the whole list.
    Rewrite(Vec<NewRow>),
}

/// A list row to insert.
#[derive(Debug, Clone)]
pub(super) struct NewRow {
    pub(super) position: i64,
    pub(super) digest: String,
    pub(super) address: String,
    pub(super) record: String,
}

/// A save worked out: what to send, and what the store will have seen once it committed.
pub(super) struct RowDiff {
    write: Write,
    change: Change,
}

/// What a write changes in what the store has seen.
pub(super) struct Change {
    lineage: String,
    upserts: Vec<(Address, ResourceState)>,
    deletes: Vec<Address>,
    lists: [Vec<ListRow>; 2],
    outputs: BTreeMap<String, StoredOutput>,
    clouds: Clouds,
}

impl RowDiff {
    /// Works out the rows that saving `state` (as `serial`) over `seen` writes; when
    /// `touched` is given, only those resources are looked at (see
    /// [`certplan_state::StateStore::save_touched`]).
    pub fn save(
        workspace: &str,
        seen: &Seen,
        state: &State,
        serial: u64,
        touched: Option<&BTreeSet<Address>>,
    ) -> Self {
        // A hint is about changes to what was seen: useless for a first save, or over a state
        // of another lineage, where everything is new.
        let same_state =
            seen.version.as_ref().is_some_and(|(lineage, _)| *lineage == state.lineage);
        let (upserts, deletes) = match touched.filter(|_| same_state) {
            Some(touched) => {
                let hinted = resource_changes_of(seen, state, touched);
                debug_assert!(
                    {
                        let all = resource_changes(seen, state);
                        let addresses = |(u, d): &(Vec<(Address, ResourceState)>, Vec<Address>)| {
                            (u.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(), d.clone())
                        };
                        addresses(&all) == addresses(&hinted)
                    },
                    "save_touched was told of fewer changes than were made"
                );
                hinted
            }
            None => resource_changes(seen, state),
        };
        let lists = [
            list_change(&seen.lists[DEPOSED], encode_list(&state.deposed, |d| &d.address)),
            list_change(&seen.lists[INTENTS], encode_list(&state.intents, |i| &i.address)),
        ];
        let first = seen.version.is_none();
        let write = Write {
            workspace: workspace.to_owned(),
            lineage: state.lineage.clone(),
            serial: to_i64(serial),
            format_version: i32::try_from(state.format_version).unwrap_or(i32::MAX),
            certplan_version: state.certplan_version.clone(),
            expected: seen.version.as_ref().map(|(l, s)| (l.clone(), to_i64(*s))),
            cloud: (first || seen.clouds != state.clouds)
                .then(|| (!state.clouds.is_empty()).then(|| to_json(&state.clouds))),
            outputs: (first || seen.outputs != state.outputs).then(|| to_json(&state.outputs)),
            upsert_addresses: upserts.iter().map(|(a, _)| a.to_string()).collect(),
            upsert_records: upserts.iter().map(|(_, r)| to_json(r)).collect(),
            delete_addresses: deletes.iter().map(ToString::to_string).collect(),
            lists: lists.clone(),
        };
        let change = Change {
            lineage: state.lineage.clone(),
            upserts,
            deletes,
            lists: [
                lists_after(&seen.lists[DEPOSED], &lists[DEPOSED]),
                lists_after(&seen.lists[INTENTS], &lists[INTENTS]),
            ],
            outputs: state.outputs.clone(),
            clouds: state.clouds.clone(),
        };
        RowDiff { write, change }
    }

    /// Works out the rows that replace whatever is stored with `state` (as `serial`).
    pub fn push(workspace: &str, state: &State, serial: u64) -> Self {
        let mut plan = RowDiff::save(workspace, &Seen::default(), state, serial, None);
        plan.write.lists = plan.write.lists.map(|change| match change {
            ListChange::Edit { insert, .. } | ListChange::Rewrite(insert) => {
                ListChange::Rewrite(insert)
            }
        });
        plan
    }

    /// Returns what to send, and what it changes once committed.
    pub fn split(self) -> (Write, Change) {
        (self.write, self.change)
    }
}

impl Change {
    /// Records in `seen` that the write committed, as `serial` (which a push learns only
    /// from the database), changing only what the write changed.
    pub fn committed(self, seen: &mut Seen, serial: u64) {
        seen.version = Some((self.lineage, serial));
        for address in &self.deletes {
            seen.resources.remove(address);
        }
        seen.resources.extend(self.upserts);
        seen.lists = self.lists;
        seen.outputs = self.outputs;
        seen.clouds = self.clouds;
    }
}

/// Returns the resources `state` changed or added, and those it removed, since `seen`.
fn resource_changes(seen: &Seen, state: &State) -> (Vec<(Address, ResourceState)>, Vec<Address>) {
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    // Both maps are ordered: one merge walk finds every difference, comparing records
    // (cheap) rather than serialising them (not).
    let mut old = seen.resources.iter().peekable();
    for (address, record) in &state.resources {
        while let Some((gone, _)) = old.next_if(|(a, _)| *a < address) {
            deletes.push(gone.clone());
        }
        let unchanged = old.next_if(|(a, _)| *a == address).is_some_and(|(_, r)| r == record);
        if !unchanged {
            upserts.push((address.clone(), record.clone()));
        }
    }
    deletes.extend(old.map(|(a, _)| a.clone()));
    (upserts, deletes)
}

/// [`resource_changes`], looking only at the addresses in `touched`.
fn resource_changes_of(
    seen: &Seen,
    state: &State,
    touched: &BTreeSet<Address>,
) -> (Vec<(Address, ResourceState)>, Vec<Address>) {
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for address in touched {
        match (seen.resources.get(address), state.resources.get(address)) {
            (Some(old), Some(new)) if old == new => {}
            (_, Some(new)) => upserts.push((address.clone(), new.clone())),
            (Some(_), None) => deletes.push(address.clone()),
            (None, None) => {}
        }
    }
    (upserts, deletes)
}

/// Returns the rows of a list: position (to be assigned), digest, address, record.
fn encode_list<T: Serialize>(
    items: &[T],
    address: impl Fn(&T) -> &Address,
) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|item| {
            let record = to_json(item);
            (address(item).to_string(), digest(&record), record)
        })
        .collect()
}

/// Works out how to turn the stored rows `old` into `new` (address, digest, record, in
/// order), keeping every row that is still there where it is.
fn list_change(old: &[ListRow], new: Vec<(String, String, String)>) -> ListChange {
    // Match each new item to the first unused stored row of the same content.
    let mut by_digest: HashMap<&str, VecDeque<i64>> = HashMap::new();
    for row in old {
        by_digest.entry(row.digest.as_str()).or_default().push_back(row.position);
    }
    let mut kept: Vec<Option<i64>> = new
        .iter()
        .map(|(_, d, _)| by_digest.get_mut(d.as_str()).and_then(VecDeque::pop_front))
        .collect();
    // A row kept must stay in order: one that moved before another is written anew.
    let mut last = None;
    for k in kept.iter_mut() {
        match (*k, last) {
            (Some(p), Some(l)) if p <= l => *k = None,
            (Some(p), _) => last = Some(p),
            _ => {}
        }
    }
    let mut positions = vec![0i64; new.len()];
    let mut i = 0;
    let mut prev: Option<i64> = None;
    while i < new.len() {
        if let Some(p) = kept[i] {
            positions[i] = p;
            prev = Some(p);
            i += 1;
            continue;
        }
        // A run of new items between two kept rows takes positions between theirs.
        let run_end = (i..new.len()).find(|&j| kept[j].is_some()).unwrap_or(new.len());
        let run = (run_end - i) as i64;
        let next = kept.get(run_end).copied().flatten();
        let first = match (prev, next) {
            (Some(p), Some(n)) if n - p > run => p + 1,
            (Some(_), Some(_)) => return rewrite(new),
            (None, Some(n)) => n - run,
            (Some(p), None) => p + 1,
            (None, None) => 0,
        };
        for (k, position) in positions[i..run_end].iter_mut().enumerate() {
            *position = first + k as i64;
        }
        i = run_end;
    }
    let still: std::collections::HashSet<i64> = kept.iter().flatten().copied().collect();
    let delete = old.iter().map(|r| r.position).filter(|p| !still.contains(p)).collect();
    let insert = new
        .into_iter()
        .zip(positions)
        .zip(kept)
        .filter(|(_, kept)| kept.is_none())
        .map(|(((address, digest, record), position), _)| NewRow {
            position,
            digest,
            address,
            record,
        })
        .collect();
    ListChange::Edit { delete, insert }
}

/// Replaces a whole list, at positions 0, 1, ….
fn rewrite(new: Vec<(String, String, String)>) -> ListChange {
    ListChange::Rewrite(
        new.into_iter()
            .enumerate()
            .map(|(i, (address, digest, record))| NewRow {
                position: i as i64,
                digest,
                address,
                record,
            })
            .collect(),
    )
}

/// Returns the stored rows of a list once `change` is made to `old`.
fn lists_after(old: &[ListRow], change: &ListChange) -> Vec<ListRow> {
    let row = |r: &NewRow| ListRow { position: r.position, digest: r.digest.clone() };
    let mut rows: Vec<ListRow> = match change {
        ListChange::Rewrite(rows) => rows.iter().map(row).collect(),
        ListChange::Edit { delete, insert } => old
            .iter()
            .filter(|r| !delete.contains(&r.position))
            .cloned()
            .chain(insert.iter().map(row))
            .collect(),
    };
    rows.sort_by_key(|r| r.position);
    rows
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("state always serialises")
}

fn digest(text: &str) -> String {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_i64(serial: u64) -> i64 {
    i64::try_from(serial).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(digests: &[&str]) -> Vec<ListRow> {
        digests
            .iter()
            .enumerate()
            .map(|(i, d)| ListRow { position: i as i64 * 10, digest: (*d).to_owned() })
            .collect()
    }

    fn items(digests: &[&str]) -> Vec<(String, String, String)> {
        digests.iter().map(|d| ("a".to_owned(), (*d).to_owned(), format!("{{{d}}}"))).collect()
    }

    /// A list change as (deleted positions, inserted (position, digest)).
    type Edit = (Vec<i64>, Vec<(i64, String)>);

    /// Returns the change as an [`Edit`], or `None` for a rewrite.
    fn edit(change: ListChange) -> Option<Edit> {
        match change {
            ListChange::Edit { delete, insert } => {
                Some((delete, insert.into_iter().map(|r| (r.position, r.digest)).collect()))
            }
            ListChange::Rewrite(_) => None,
        }
    }

    #[test]
    fn a_list_change_touches_only_the_rows_that_changed() {
        let old = stored(&["a", "b", "c"]);
        let s = |v: &str| v.to_owned();
        // Appended, removed, changed in place, prepended: only those rows.
        assert_eq!(
            edit(list_change(&old, items(&["a", "b", "c", "d"]))),
            Some((vec![], vec![(21, s("d"))]))
        );
        assert_eq!(edit(list_change(&old, items(&["a", "c"]))), Some((vec![10], vec![])));
        assert_eq!(
            edit(list_change(&old, items(&["a", "B", "c"]))),
            Some((vec![10], vec![(1, s("B"))]))
        );
        assert_eq!(
            edit(list_change(&old, items(&["z", "a", "b", "c"]))),
            Some((vec![], vec![(-1, s("z"))]))
        );
        // Duplicates match one stored row each.
        assert_eq!(
            edit(list_change(&stored(&["a", "a"]), items(&["a"]))),
            Some((vec![10], vec![]))
        );
        // Reordered: the row that moved is written anew after the one it now follows.
        assert_eq!(
            edit(list_change(&old, items(&["b", "a", "c"]))),
            Some((vec![0], vec![(11, s("a"))]))
        );
        // No room between two kept rows: the list is rewritten.
        let dense: Vec<ListRow> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, d)| ListRow { position: i as i64, digest: (*d).to_owned() })
            .collect();
        assert!(edit(list_change(&dense, items(&["a", "x", "b"]))).is_none());
        let after = lists_after(&old, &list_change(&old, items(&["a", "B", "c"])));
        let digests: Vec<&str> = after.iter().map(|r| r.digest.as_str()).collect();
        assert_eq!(digests, ["a", "B", "c"]);
    }
}
