//! The metadata string committed with an offset, as bytes.
//!
//! Any member of a group (or an operator's tool) may commit offsets with metadata;
//! rust-rdkafka's accessor `expect`s it to be UTF-8. [`of`] reads it without that
//! assumption. Writing goes through rust-rdkafka's `set_metadata`, which takes text.

use std::collections::HashMap;

use rdkafka::TopicPartitionList;

/// The metadata of every element of `list` that has some, by (topic, partition).
pub fn of(list: &TopicPartitionList) -> HashMap<(String, i32), Vec<u8>> {
    let mut found = HashMap::new();
    let native = list.ptr();
    for (index, element) in list.elements().into_iter().enumerate() {
        // SAFETY: `native` is the list `list` owns, alive and unchanged while it is
        // borrowed here; `index` is below its element count (the elements were just
        // listed from it); librdkafka keeps each element's metadata as a pointer and a
        // size (null and 0 when there is none), copied below before the borrow ends.
        #[allow(unsafe_code)]
        let metadata = unsafe {
            let element = (*native).elems.add(index);
            let (pointer, size) = ((*element).metadata, (*element).metadata_size);
            (!pointer.is_null() && size > 0)
                .then(|| std::slice::from_raw_parts(pointer.cast::<u8>(), size).to_vec())
        };
        if let Some(metadata) = metadata {
            found.insert((element.topic().to_owned(), element.partition()), metadata);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use rdkafka::Offset;

    use super::*;

    #[test]
    fn metadata_is_read_by_partition_and_absent_metadata_is_left_out() {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset("t", 0, Offset::Offset(5))
            .unwrap();
        list.add_partition_offset("t", 1, Offset::Offset(7))
            .unwrap();
        list.elements_for_topic("t")[0].set_metadata("orderflow starts=2");
        let found = of(&list);
        assert_eq!(found.len(), 1);
        assert_eq!(found[&("t".to_owned(), 0)], b"orderflow starts=2");
    }
}
