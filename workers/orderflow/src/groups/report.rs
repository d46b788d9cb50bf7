//! What `orderflow groups` prints: the rows of `describe` built from what the broker
//! said, and the text tables of all three commands (`--json` prints the same structs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use super::plan::Move;

/// One group of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    /// Group id.
    pub group: String,
    /// State (Stable, Empty, PreparingRebalance, ...).
    pub state: String,
    /// Protocol type (`consumer` for Kafka consumers; empty for a group that only
    /// holds committed offsets).
    pub protocol_type: String,
    /// Number of members.
    pub members: usize,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Member id the coordinator gave it.
    pub member_id: String,
    /// The client's `client.id`.
    pub client_id: String,
    /// The host it connected from.
    pub host: String,
    /// Its partitions by topic.
    pub assignment: BTreeMap<String, Vec<i32>>,
    /// Why its assignment could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_error: Option<String>,
}

/// One partition of `describe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionRow {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The group's committed offset (`null`: none).
    pub committed_offset: Option<i64>,
    /// The partition's end: high watermark (`null`: unknown, the topic is gone).
    pub end_offset: Option<i64>,
    /// End minus committed (`null` when either is unknown).
    pub lag: Option<i64>,
    /// The member that owns the partition (`null`: none).
    pub member_id: Option<String>,
    /// That member's client id.
    pub client_id: Option<String>,
    /// That member's host.
    pub host: Option<String>,
}

/// What `describe` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Description {
    /// Group id.
    pub group: String,
    /// State.
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// The assignor in use (range, roundrobin, cooperative-sticky, ...).
    pub protocol: String,
    /// Members.
    pub members: Vec<Member>,
    /// Partitions, by topic and partition.
    pub partitions: Vec<PartitionRow>,
}

/// The rows of `describe`: every partition of each topic the group has a committed
/// offset in or a member is assigned, with its committed offset, end and owner.
/// `topics` holds the partition ids of the topics that exist; a topic missing from
/// it (deleted) shows only the partitions known from offsets or assignments, with an
/// unknown end.
pub fn partition_rows(
    members: &[Member],
    topics: &HashMap<String, Vec<i32>>,
    committed: &HashMap<(String, i32), i64>,
    ends: &HashMap<(String, i32), i64>,
) -> Vec<PartitionRow> {
    let mut owners: HashMap<(&str, i32), &Member> = HashMap::new();
    for member in members {
        for (topic, partitions) in &member.assignment {
            for partition in partitions {
                owners.insert((topic.as_str(), *partition), member);
            }
        }
    }
    let mut keys: BTreeSet<(String, i32)> = committed.keys().cloned().collect();
    keys.extend(owners.keys().map(|(topic, p)| ((*topic).to_owned(), *p)));
    let named: BTreeSet<String> = keys.iter().map(|(topic, _)| topic.clone()).collect();
    for topic in named {
        if let Some(partitions) = topics.get(&topic) {
            keys.extend(partitions.iter().map(|p| (topic.clone(), *p)));
        }
    }
    keys.into_iter()
        .map(|(topic, partition)| {
            let key = (topic, partition);
            let committed_offset = committed.get(&key).copied();
            let end_offset = ends.get(&key).copied();
            let lag = committed_offset
                .zip(end_offset)
                .map(|(current, end)| end.saturating_sub(current).max(0));
            let owner = owners.get(&(key.0.as_str(), partition));
            PartitionRow {
                committed_offset,
                end_offset,
                lag,
                member_id: owner.map(|m| m.member_id.clone()),
                client_id: owner.map(|m| m.client_id.clone()),
                host: owner.map(|m| m.host.clone()),
                topic: key.0,
                partition,
            }
        })
        .collect()
}

/// Left-aligned columns two spaces apart, trailing spaces trimmed.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The text of `list`.
pub fn list_text(groups: &[GroupSummary]) -> String {
    if groups.is_empty() {
        return "no consumer groups\n".to_owned();
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                g.state.clone(),
                g.protocol_type.clone(),
                g.members.to_string(),
            ]
        })
        .collect();
    table(&["GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS"], &rows)
}

/// The text of `describe`.
pub fn describe_text(description: &Description) -> String {
    let d = description;
    let protocol = match (d.protocol.as_str(), d.protocol_type.as_str()) {
        ("", "") => "none".to_owned(),
        (protocol, kind) => format!("{protocol} ({kind})"),
    };
    let members = match d.members.len() {
        1 => "1 member".to_owned(),
        n => format!("{n} members"),
    };
    let mut text = format!(
        "group {}: state {}, protocol {protocol}, {members}\n",
        d.group, d.state
    );
    for member in &d.members {
        if let Some(error) = &member.assignment_error {
            let _ = writeln!(
                text,
                "member {} ({}): partitions unknown, {error}",
                member.member_id, member.client_id
            );
        }
    }
    if d.partitions.is_empty() {
        text.push_str("no committed offsets and no assigned partitions\n");
        return text;
    }
    text.push('\n');
    let rows: Vec<Vec<String>> = d
        .partitions
        .iter()
        .map(|row| {
            vec![
                row.topic.clone(),
                row.partition.to_string(),
                or_dash(row.committed_offset),
                or_dash(row.end_offset),
                or_dash(row.lag),
                or_dash(row.member_id.as_ref()),
                or_dash(row.host.as_ref()),
                or_dash(row.client_id.as_ref()),
            ]
        })
        .collect();
    text.push_str(&table(
        &[
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    ));
    text
}

/// The text of `reset`: the moves, and whether they were committed.
pub fn reset_text(group: &str, moves: &[Move], committed: bool) -> String {
    let rows: Vec<Vec<String>> = moves
        .iter()
        .map(|m| {
            vec![
                m.topic.clone(),
                m.partition.to_string(),
                or_dash(m.current_offset),
                m.new_offset
                    .map_or_else(|| "- (no offset to shift)".to_owned(), |o| o.to_string()),
            ]
        })
        .collect();
    let mut text = table(
        &["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"],
        &rows,
    );
    let changed = moves.iter().filter(|m| m.new_offset.is_some()).count();
    if committed {
        let _ = writeln!(text, "committed {changed} offsets for group {group}");
    } else {
        let _ = writeln!(
            text,
            "dry run: nothing committed for group {group} ({changed} offsets would be)"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topic: &str, partitions: &[i32]) -> Member {
        Member {
            member_id: id.into(),
            client_id: format!("client-{id}"),
            host: "/10.0.0.1".into(),
            assignment: BTreeMap::from([(topic.to_owned(), partitions.to_vec())]),
            assignment_error: None,
        }
    }

    #[test]
    fn rows_show_lag_and_owner_and_every_partition_of_a_topic_in_use() {
        let members = vec![member("m1", "t", &[0, 1])];
        let topics = HashMap::from([("t".to_owned(), vec![0, 1, 2])]);
        let committed = HashMap::from([(("t".to_owned(), 0), 5), (("t".to_owned(), 2), 9)]);
        let ends = HashMap::from([
            (("t".to_owned(), 0), 8),
            (("t".to_owned(), 1), 4),
            (("t".to_owned(), 2), 9),
        ]);
        let rows = partition_rows(&members, &topics, &committed, &ends);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.partition,
                    r.committed_offset,
                    r.end_offset,
                    r.lag,
                    r.member_id.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, Some(5), Some(8), Some(3), Some("m1".to_owned())),
                (1, None, Some(4), None, Some("m1".to_owned())),
                (2, Some(9), Some(9), Some(0), None),
            ]
        );
    }

    #[test]
    fn a_deleted_topic_shows_its_offsets_with_an_unknown_end() {
        let committed = HashMap::from([(("gone".to_owned(), 3), 7)]);
        let rows = partition_rows(&[], &HashMap::new(), &committed, &HashMap::new());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].committed_offset, rows[0].end_offset, rows[0].lag),
            (Some(7), None, None)
        );
        let text = describe_text(&Description {
            group: "g".into(),
            state: "Empty".into(),
            protocol_type: "consumer".into(),
            protocol: String::new(),
            members: vec![],
            partitions: rows,
        });
        assert!(
            text.contains("gone   3          7               -               -    -"),
            "{text}"
        );
    }

    #[test]
    fn describe_prints_the_state_line_and_a_table() {
        let members = vec![member("m1", "t", &[0])];
        let rows = partition_rows(
            &members,
            &HashMap::from([("t".to_owned(), vec![0])]),
            &HashMap::from([(("t".to_owned(), 0), 5)]),
            &HashMap::from([(("t".to_owned(), 0), 8)]),
        );
        let text = describe_text(&Description {
            group: "g".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members,
            partitions: rows,
        });
        assert_eq!(
            text,
            "group g: state Stable, protocol range (consumer), 1 member\n\n\
             TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST       CLIENT-ID\n\
             t      0          5               8               3    m1           /10.0.0.1  client-m1\n"
        );
    }

    #[test]
    fn reset_text_says_whether_anything_was_committed() {
        let moves = vec![
            Move {
                topic: "t".into(),
                partition: 0,
                current_offset: Some(5),
                new_offset: Some(2),
            },
            Move {
                topic: "t".into(),
                partition: 1,
                current_offset: None,
                new_offset: None,
            },
        ];
        let dry = reset_text("g", &moves, false);
        assert!(dry.starts_with("TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\nt      0          5               2\n"), "{dry}");
        assert!(
            dry.contains("t      1          -               - (no offset to shift)"),
            "{dry}"
        );
        assert!(
            dry.ends_with("dry run: nothing committed for group g (1 offsets would be)\n"),
            "{dry}"
        );
        assert!(reset_text("g", &moves, true).ends_with("committed 1 offsets for group g\n"));
    }

    #[test]
    fn an_empty_list_says_so() {
        assert_eq!(list_text(&[]), "no consumer groups\n");
        let text = list_text(&[GroupSummary {
            group: "order-status".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            members: 2,
        }]);
        assert_eq!(
            text,
            "GROUP         STATE   PROTOCOL-TYPE  MEMBERS\norder-status  Stable  consumer       2\n"
        );
    }
}
