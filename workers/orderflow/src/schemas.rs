//! `orderflow schemas check`: the schema-evolution check of `make schema-check`.

use anyhow::Context;
use orderflow_events::evolution::{SchemaFile, check};

use crate::cli::{SchemasAction, SchemasArgs};

/// Runs `orderflow schemas`.
pub fn run(args: SchemasArgs) -> anyhow::Result<()> {
    let SchemasAction::Check { dir } = args.action;
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let folder = folder?.path();
        if !folder.is_dir() {
            continue;
        }
        let name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for file in std::fs::read_dir(&folder)? {
            let path = file?.path();
            let file_name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Some(version) = file_name
                .strip_prefix('v')
                .and_then(|f| f.strip_suffix(".avsc"))
            else {
                anyhow::bail!("{}: schema files must be named v<N>.avsc", path.display());
            };
            let version: u32 = version
                .parse()
                .with_context(|| format!("{}: version is not a number", path.display()))?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push(SchemaFile {
                name: name.clone(),
                version,
                text,
            });
        }
    }
    files.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
    let problems = check(&files);
    let mut names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
    names.dedup();
    if problems.is_empty() {
        println!(
            "schema check passed: {} schemas, {} versions, each backward and forward compatible with its earlier versions",
            names.len(),
            files.len()
        );
        Ok(())
    } else {
        for problem in &problems {
            eprintln!("{problem}");
        }
        anyhow::bail!("schema check failed: {} problem(s)", problems.len())
    }
}
