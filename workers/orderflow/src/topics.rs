//! `orderflow topics`: create and describe the pipeline's topics.

use orderflow_runtime::kafka::KafkaSettings;

use crate::cli::TopicsCommand;

/// Runs `orderflow topics`.
pub async fn run(_command: TopicsCommand) -> anyhow::Result<()> {
    anyhow::bail!("topics is not available in this build")
}

/// Creates every topic in `topics` that is missing; returns the names it created.
pub async fn ensure(
    settings: &KafkaSettings,
    topics: &[String],
    partitions: i32,
    replication: i32,
    configs: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> = settings.create(&[])?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let missing = orderflow_runtime::topics::missing_topics(&admin, &names).await?;
    let _ = configs;
    orderflow_runtime::topics::create_topics(&admin, &missing, partitions, replication).await?;
    Ok(missing)
}
