//! `orderflow schemas check`: the schema-evolution check of `make schema-check`.

use orderflow_events::contract::read_schemas_dir;
use orderflow_events::evolution::check;

use crate::cli::{SchemasAction, SchemasArgs};

/// Runs `orderflow schemas`.
pub fn run(args: SchemasArgs) -> anyhow::Result<()> {
    let SchemasAction::Check { dir } = args.action;
    let files = read_schemas_dir(&dir).map_err(anyhow::Error::msg)?;
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
