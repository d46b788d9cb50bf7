//! Embeds every schema under `schemas/<Name>/v<N>.avsc` into the crate, so the
//! binaries carry the contract and need no files at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../schemas");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    for dir in read_dir_sorted(&root) {
        if !dir.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", dir.display());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in read_dir_sorted(&dir) {
            let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
            let version = file_name
                .strip_prefix('v')
                .and_then(|rest| rest.strip_suffix(".avsc"))
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or_else(|| {
                    panic!("schemas/{name}/{file_name}: schema files must be named v<N>.avsc")
                });
            let path = file.canonicalize().unwrap();
            entries.push((name.clone(), version, path));
        }
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (name, version, path) in entries {
        writeln!(
            out,
            "    CatalogueEntry {{ folder: \"schemas\", name: {name:?}, version: {version}, text: include_str!({:?}) }},",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("catalogue.rs");
    std::fs::write(dest, out).unwrap();
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "avsc"))
        .collect();
    paths.sort();
    paths
}
