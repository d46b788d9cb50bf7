//! `orderflow produce`: JSON in, Avro out.

use crate::cli::ProduceArgs;

/// Runs `orderflow produce`.
pub async fn run(_args: ProduceArgs) -> anyhow::Result<()> {
    anyhow::bail!("produce is not available in this build")
}
