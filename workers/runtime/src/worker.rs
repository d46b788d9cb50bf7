//! What a worker binary's `main` calls: parse flags, set up logs, metrics and the HTTP
//! endpoints, run until SIGTERM or SIGINT, and map the result to an exit code.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use futures::FutureExt;
use futures::future::BoxFuture;
use orderflow_events::{Codec, CodecError, Contract};

use crate::clock::SystemClock;
use crate::config::{RuntimeConfig, WorkerArgs, WorkerIdentity};
use crate::error::RuntimeError;
use crate::handler::AvroHandler;
use crate::metrics::{WorkerStatus, prometheus};
use crate::processor::Processor;
use crate::telemetry::init_logging;
use crate::{engine, http};

/// How long a worker the safety valve stopped waits for a scrape of `/metrics` before
/// it exits: the chart's scrape interval is 30 s.
const VALVE_SCRAPE_WAIT: Duration = Duration::from_secs(35);

#[derive(Parser)]
struct WorkerCli {
    #[command(flatten)]
    args: WorkerArgs,
}

/// The whole `main` of a worker binary.
pub fn worker_main<P: Processor>(about: &'static str) -> ExitCode {
    worker_main_with_routes::<P>(about, &[])
}

/// The whole `main` of a worker binary with further inputs: `P` reads the worker's
/// input topic, each of `routes` one more topic, all in the worker's consumer group.
pub fn worker_main_with_routes<P: Processor>(about: &'static str, routes: &[Route]) -> ExitCode {
    let mut command = WorkerCli::command()
        .name(P::NAME)
        .version(P::VERSION)
        .about(about);
    for route in routes {
        command = route.flags(command);
    }
    let matches = command.get_matches();
    let cli = match WorkerCli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let routes = routes.iter().map(|route| route.topics(&matches)).collect();
    init_logging(cli.args.log_format);
    crate::telemetry::log_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", P::NAME);
            return ExitCode::FAILURE;
        }
    };
    // The signal handlers are installed now, not when the engine first waits for them:
    // until then a SIGTERM (a rolling update right after a start) would kill the process
    // by the default action instead of stopping it cleanly.
    let shutdown = {
        let _context = runtime.enter();
        shutdown_signal()
    };
    let result = runtime.block_on(run_with_routes::<P>(cli.args, routes, shutdown));
    // Blocking calls stuck on an unreachable broker must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let code = exit_code(P::NAME, &result);
    // librdkafka handles still draining in helper threads are abandoned with the process.
    std::process::exit(code)
}

/// Prints the one-line reason of a failure and returns the exit code: 0 clean, 2 bad
/// configuration, 1 any other fatal error.
pub fn exit_code(name: &str, result: &Result<(), RuntimeError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) if error.is_config() => {
            eprintln!("{name}: {error}");
            2
        }
        Err(error) => {
            eprintln!("{name}: fatal: {error}");
            1
        }
    }
}

/// The identity of processor `P`.
pub fn identity<P: Processor>() -> WorkerIdentity {
    WorkerIdentity {
        name: P::NAME,
        version: P::VERSION,
        input_topic: P::INPUT_TOPIC,
        output_topic: P::OUTPUT_TOPIC,
    }
}

/// Builds processor `P` from the rules file named by `args`, if any.
pub fn load_processor<P: Processor>(args: &WorkerArgs) -> Result<P, RuntimeError> {
    let rules: P::Rules = match args.rules_text()? {
        Some(text) => toml::from_str(&text).map_err(|e| {
            RuntimeError::Config(format!(
                "--rules {}: {e}",
                args.rules
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
        })?,
        None => P::Rules::default(),
    };
    P::new(rules).map_err(|e| RuntimeError::Config(format!("invalid rules: {e}")))
}

/// Runs processor `P` with `args` until `shutdown`, serving the HTTP endpoints.
pub async fn run<P: Processor>(
    args: WorkerArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    run_with_routes::<P>(args, Vec::new(), shutdown).await
}

/// A further input of a worker: a processor of its own input and output types and
/// topics, run beside the worker's own processor in the same consumer group, with the
/// same dead-letter topic and settings, and its own transactional producer.
///
/// Its topics are set by `--<name>-input-topic` and `--<name>-output-topic`
/// (`ORDERFLOW_<NAME>_INPUT_TOPIC`, `ORDERFLOW_<NAME>_OUTPUT_TOPIC`), defaulting to
/// the processor's. Its metrics and its line in `/readyz` carry the worker label
/// `<worker>.<name>`. It reads the worker's `--rules` file as its own `Rules` type, so
/// a route's processor usually shares the worker's rules type (the notifier's
/// `UserNotifier` reads the `[users]` table of `NotifierRules`).
#[derive(Clone, Copy)]
pub struct Route {
    name: &'static str,
    identity: WorkerIdentity,
    bind: fn() -> Result<(), String>,
    serve: Serve,
}

/// Runs one route's processor: its flags, its settings, its status, its shutdown.
type Serve = fn(
    WorkerArgs,
    RuntimeConfig,
    Arc<WorkerStatus>,
    BoxFuture<'static, ()>,
) -> BoxFuture<'static, Result<(), RuntimeError>>;

/// The route `name` of processor `Q`.
pub fn route<Q: Processor>(name: &'static str) -> Route {
    Route {
        name,
        identity: identity::<Q>(),
        bind: bind::<Q>,
        serve: |args, config, status, shutdown| serve::<Q>(args, config, status, shutdown).boxed(),
    }
}

/// A route with the topics its flags chose.
#[derive(Clone)]
pub struct RouteTopics {
    route: Route,
    input_topic: Option<String>,
    output_topic: Option<String>,
}

impl Route {
    fn flag(&self, what: &str) -> (&'static str, &'static str) {
        let long: &'static str = format!("{}-{what}-topic", self.name).leak();
        let env = format!("ORDERFLOW_{}", long.replace('-', "_").to_ascii_uppercase()).leak();
        (long, env)
    }

    fn flags(&self, command: clap::Command) -> clap::Command {
        let [(input, input_env), (output, output_env)] = [self.flag("input"), self.flag("output")];
        command
            .arg(
                clap::Arg::new(input)
                    .long(input)
                    .env(input_env)
                    .value_name("TOPIC")
                    .help(format!(
                        "Topic of the {} input [default: {}]",
                        self.name, self.identity.input_topic
                    ))
                    .help_heading("Worker"),
            )
            .arg(
                clap::Arg::new(output)
                    .long(output)
                    .env(output_env)
                    .value_name("TOPIC")
                    .help(format!(
                        "Topic of the events derived from the {} input [default: {}]",
                        self.name, self.identity.output_topic
                    ))
                    .help_heading("Worker"),
            )
    }

    fn topics(&self, matches: &clap::ArgMatches) -> RouteTopics {
        let [input, output] = [self.flag("input").0, self.flag("output").0];
        RouteTopics {
            route: *self,
            input_topic: matches.get_one::<String>(input).cloned(),
            output_topic: matches.get_one::<String>(output).cloned(),
        }
    }

    /// The route with the topics given, `None` for the processor's.
    pub fn with_topics(
        &self,
        input_topic: Option<String>,
        output_topic: Option<String>,
    ) -> RouteTopics {
        RouteTopics {
            route: *self,
            input_topic,
            output_topic,
        }
    }
}

impl RouteTopics {
    /// The route's settings: those of the worker `main`, with the route's topics and
    /// its worker label `<worker>.<route>`; its group and dead-letter topic are the
    /// worker's.
    fn resolve(
        &self,
        args: &WorkerArgs,
        main: &RuntimeConfig,
    ) -> Result<RuntimeConfig, RuntimeError> {
        let Route { name, identity, .. } = self.route;
        let mut args = args.clone();
        args.input_topic = self.input_topic.clone();
        args.output_topic = self.output_topic.clone();
        args.group_id = Some(main.group_id.clone());
        args.dlq_topic = Some(main.dlq_topic.clone());
        // One transactional id per producer: the route's follows the worker's.
        args.transactional_id = args.transactional_id.map(|id| format!("{id}.{name}"));
        let mut config = args.resolve(identity)?;
        config.identity.name = format!("{}.{name}", main.identity.name).leak();
        Ok(config)
    }
}

/// Checks at start that `P`'s input and output types match their schemas: a type whose
/// schema is missing or differs is a configuration error, not a panic at the first
/// message.
fn bind<P: Processor>() -> Result<(), String> {
    Contract::bind::<P::Input>()?;
    Contract::bind::<P::Output>()?;
    Ok(())
}

/// Runs processor `P` with settings `config` until `shutdown`.
async fn serve<P: Processor>(
    args: WorkerArgs,
    config: RuntimeConfig,
    status: Arc<WorkerStatus>,
    shutdown: BoxFuture<'static, ()>,
) -> Result<(), RuntimeError> {
    let processor = load_processor::<P>(&args)?;
    let codec = Arc::new(Codec::new(config.codec.clone()).map_err(RuntimeError::Config)?);
    // The output schema's id is settled before consuming: a schema that is not under its
    // subject and may not be registered there (read-only registry credentials) is a
    // configuration error naming the subject and what to do. Anything else (a registry
    // that is down) is left to the engine, which retries.
    if let Err(error @ CodecError::SchemaNotRegistered { .. }) =
        codec.header_for::<P::Output>(&config.output_topic).await
    {
        return Err(RuntimeError::Config(error.to_string()));
    }
    let handler = Arc::new(AvroHandler::new(
        processor,
        codec,
        &config.output_topic,
        Arc::new(SystemClock),
    ));
    engine::run(config, handler, status, shutdown).await
}

/// Runs processor `P` and `routes` with `args` until `shutdown`, serving the HTTP
/// endpoints. When one of them stops with an error, the others stop too, and the first
/// error is the result.
pub async fn run_with_routes<P: Processor>(
    args: WorkerArgs,
    routes: Vec<RouteTopics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    args.registry.load_schemas()?;
    bind::<P>().map_err(RuntimeError::Config)?;
    for route in &routes {
        (route.route.bind)().map_err(RuntimeError::Config)?;
    }
    let main = args.resolve(identity::<P>())?;
    let mut configs = Vec::with_capacity(1 + routes.len());
    for route in &routes {
        configs.push(route.resolve(&args, &main)?);
    }
    configs.insert(0, main);
    check_distinct_topics(&configs)?;
    let statuses: Vec<_> = configs
        .iter()
        .map(|config| Arc::new(WorkerStatus::new(config.identity.name)))
        .collect();
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let router = http::router(prometheus(), statuses.clone());
    let server = http::serve(args.http_addr, router, async {
        let _ = http_stopped.await;
    })
    .await?;

    // Every processor stops on `shutdown`, and on the first one that fails.
    let (failed, failure) = tokio::sync::watch::channel(false);
    let shutdown = shutdown.shared();
    let stop = || {
        let (shutdown, mut failure) = (shutdown.clone(), failure.clone());
        async move {
            tokio::select! {
                () = shutdown => {}
                _ = failure.wait_for(|failed| *failed) => {}
            }
        }
    };
    let mut serves: Vec<BoxFuture<'_, Result<(), RuntimeError>>> = Vec::new();
    let serve_main = serve::<P>(
        args.clone(),
        configs[0].clone(),
        statuses[0].clone(),
        stop().boxed(),
    );
    serves.push(serve_main.boxed());
    for ((route, config), status) in routes.iter().zip(&configs[1..]).zip(&statuses[1..]) {
        serves.push((route.route.serve)(
            args.clone(),
            config.clone(),
            status.clone(),
            stop().boxed(),
        ));
    }
    let results = futures::future::join_all(serves.into_iter().map(|serve| {
        let failed = &failed;
        async move {
            let result = serve.await;
            if result.is_err() {
                failed.send_replace(true);
            }
            result
        }
    }))
    .await;
    for (result, status) in results.iter().zip(&statuses) {
        if result.as_ref().is_err_and(RuntimeError::is_safety_valve) {
            // Until a scrape has seen the trip (Prometheus scrapes every 30 s or so), or
            // the alert on it could never fire: the restart comes a little later instead.
            if !status.scraped_since_trip(VALVE_SCRAPE_WAIT).await {
                tracing::warn!(
                    worker = status.name,
                    "no scrape of /metrics since the safety valve tripped; exiting anyway"
                );
            }
        }
    }
    let _ = stop_http.send(());
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    // The first error by cause: a configuration error or a fatal one, not the stop it
    // caused in the others (which is clean).
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

/// No topic is read or written by two processors of one worker, and none reads what
/// another writes.
fn check_distinct_topics(configs: &[RuntimeConfig]) -> Result<(), RuntimeError> {
    for (i, config) in configs.iter().enumerate() {
        for other in &configs[i + 1..] {
            if config.input_topic == other.input_topic {
                return Err(RuntimeError::Config(format!(
                    "{} and {} both read {}: give each input its own topic",
                    config.identity.name, other.identity.name, config.input_topic
                )));
            }
            if config.output_topic == other.output_topic {
                return Err(RuntimeError::Config(format!(
                    "{} and {} both write {}: give each input's events their own topic (one \
                     schema per topic)",
                    config.identity.name, other.identity.name, config.output_topic
                )));
            }
        }
        for other in configs {
            if other.output_topic == config.input_topic || other.dlq_topic == config.input_topic {
                return Err(RuntimeError::Config(format!(
                    "{} reads {}, which {} writes: a worker would consume its own output",
                    config.identity.name, config.input_topic, other.identity.name
                )));
            }
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (inside
/// a tokio runtime), so a signal that arrives before the future is first polled is not
/// lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = signal(SignalKind::terminate())
            .and_then(|terminate| Ok((terminate, signal(SignalKind::interrupt())?)));
        async move {
            match handlers {
                Ok((mut terminate, mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                // No signal driver: Ctrl-C still stops the worker.
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &'static str, input: &'static str, output: &'static str) -> WorkerIdentity {
        WorkerIdentity {
            name,
            version: "1.0.0",
            input_topic: input,
            output_topic: output,
        }
    }

    /// A route `users` of a processor named `other`, reading `b.in` into `b.out`.
    fn users() -> Route {
        Route {
            name: "users",
            identity: identity("other", "b.in", "b.out"),
            bind: || Ok(()),
            serve: |_, _, _, _| async { Ok(()) }.boxed(),
        }
    }

    fn args(flags: &[&str]) -> WorkerArgs {
        let mut all = vec!["--bootstrap-servers", "localhost:9092"];
        all.extend(flags);
        WorkerArgs::from_flags(all).expect("flags")
    }

    #[test]
    fn a_route_reads_its_own_topics_in_the_worker_group_with_its_dead_letter_topic() {
        let args = args(&["--transactional-id", "w-0"]);
        let main = args.resolve(identity("w", "a.in", "a.out")).unwrap();
        let route = users()
            .with_topics(None, None)
            .resolve(&args, &main)
            .unwrap();
        assert_eq!(route.input_topic, "b.in");
        assert_eq!(route.output_topic, "b.out");
        assert_eq!(route.group_id, "w");
        assert_eq!(route.dlq_topic, "w.dlq");
        assert_eq!(route.identity.name, "w.users");
        assert_eq!(route.transactional_id.as_deref(), Some("w-0.users"));
        assert_eq!(main.transactional_id.as_deref(), Some("w-0"));
        check_distinct_topics(&[main.clone(), route]).unwrap();

        let renamed = users()
            .with_topics(Some("c.in".into()), Some("c.out".into()))
            .resolve(&args, &main)
            .unwrap();
        assert_eq!(
            (renamed.input_topic.as_str(), renamed.output_topic.as_str()),
            ("c.in", "c.out")
        );
    }

    #[test]
    fn the_route_flags_and_their_environment_variables_name_the_route() {
        let command = users().flags(clap::Command::new("w").no_binary_name(true));
        let matches = command
            .clone()
            .try_get_matches_from(["--users-input-topic", "x.in"])
            .unwrap();
        let topics = users().topics(&matches);
        assert_eq!(topics.input_topic.as_deref(), Some("x.in"));
        assert_eq!(topics.output_topic, None);
        let envs: Vec<_> = command
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(
            envs,
            [
                "ORDERFLOW_USERS_INPUT_TOPIC",
                "ORDERFLOW_USERS_OUTPUT_TOPIC"
            ]
        );
    }

    #[test]
    fn two_inputs_on_one_topic_or_an_input_another_writes_are_refused() {
        let args = args(&[]);
        let main = args.resolve(identity("w", "a.in", "a.out")).unwrap();
        let same = users()
            .with_topics(Some("a.in".into()), None)
            .resolve(&args, &main)
            .unwrap();
        let error = check_distinct_topics(&[main.clone(), same])
            .unwrap_err()
            .to_string();
        assert!(error.contains("w and w.users both read a.in"), "{error}");
        let loop_back = users()
            .with_topics(Some("a.out".into()), None)
            .resolve(&args, &main)
            .unwrap();
        let error = check_distinct_topics(&[main.clone(), loop_back])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("w.users reads a.out, which w writes"),
            "{error}"
        );
        let same_output = users()
            .with_topics(None, Some("a.out".into()))
            .resolve(&args, &main)
            .unwrap();
        let error = check_distinct_topics(&[main.clone(), same_output])
            .unwrap_err()
            .to_string();
        assert!(error.contains("w and w.users both write a.out"), "{error}");
        let dead_letters = users()
            .with_topics(Some("w.dlq".into()), None)
            .resolve(&args, &main);
        // The route's own check already refuses reading its dead-letter topic.
        assert!(dead_letters.is_err());
    }
}
