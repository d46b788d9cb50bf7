package io.orderflow.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.avro.Schema;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;

/**
 * The orderflow order-validator as a Kafka Streams application, for benchmarking against
 * the Rust worker: the same rules (defaults), the same Avro schemas and the same wire
 * format (Avro single-object encoding) in and out.
 *
 * <p>Build (from the repository root; needs Maven Central once, nothing at run time):
 * <pre>
 *   mvn -q -B -f bench/ks/pom.xml package dependency:copy-dependencies -DoutputDirectory=target/lib
 * </pre>
 * Run:
 * <pre>
 *   java -cp 'bench/ks/target/classes:bench/ks/target/lib/*' io.orderflow.bench.ValidatorApp \
 *     --bootstrap-servers 127.0.0.1:9092 --input-topic orders.lifecycle \
 *     --output-topic orders.validation --dlq-topic order-validator.dlq \
 *     --application-id order-validator-ks --guarantee exactly-once \
 *     --commit-interval-ms 100 --threads 2 --schemas-dir schemas
 * </pre>
 * Every flag has an environment variable: ORDERFLOW_ plus the flag in upper case with
 * underscores (ORDERFLOW_BOOTSTRAP_SERVERS, ...). Prints {@code started} on stdout when
 * the application reaches RUNNING; SIGTERM closes it cleanly. Logs (slf4j-simple, stderr)
 * are at WARN; {@code -Dorg.slf4j.simpleLogger.defaultLogLevel=info} shows more.
 */
public final class ValidatorApp {
    private ValidatorApp() {}

    /** Flag name to its default (null: required). */
    private static final Map<String, String> FLAGS = new java.util.LinkedHashMap<>();

    static {
        FLAGS.put("bootstrap-servers", "127.0.0.1:9092");
        FLAGS.put("input-topic", "orders.lifecycle");
        FLAGS.put("output-topic", "orders.validation");
        FLAGS.put("dlq-topic", "order-validator.dlq");
        FLAGS.put("application-id", "order-validator-ks");
        FLAGS.put("guarantee", "exactly-once");
        FLAGS.put("commit-interval-ms", "100");
        FLAGS.put("threads", "2");
        FLAGS.put("schemas-dir", "schemas");
        FLAGS.put("state-dir", "");
        FLAGS.put("shutdown-timeout-secs", "20");
    }

    /** Set once SIGTERM (or another JVM shutdown) started closing the application. */
    private static final AtomicBoolean CLOSING = new AtomicBoolean(false);

    public static void main(String[] args) {
        try {
            int code = run(args);
            if (!CLOSING.get()) {
                // During a JVM shutdown System.exit would block: the hook ends the JVM.
                System.exit(code);
            }
        } catch (UsageException e) {
            System.err.println("error: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
        } catch (Exception e) {
            System.err.println("error: " + e);
            System.exit(1);
        }
    }

    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    static String usage() {
        StringBuilder out = new StringBuilder("usage: ValidatorApp");
        FLAGS.forEach((flag, def) -> out.append("\n  --").append(flag).append(" <value>")
                .append(def.isEmpty() ? "" : "   [default " + def + "]"));
        return out.toString();
    }

    static Map<String, String> parse(String[] args) throws UsageException {
        Map<String, String> values = new HashMap<>();
        for (String flag : FLAGS.keySet()) {
            String env = System.getenv("ORDERFLOW_" + flag.toUpperCase(Locale.ROOT).replace('-', '_'));
            values.put(flag, env != null ? env : FLAGS.get(flag));
        }
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-h") || arg.equals("--help")) {
                System.out.println(usage());
                System.exit(0);
            }
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument " + arg);
            }
            String name = arg.substring(2);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new UsageException("--" + name + " needs a value");
            }
            if (!FLAGS.containsKey(name)) {
                throw new UsageException("unknown flag --" + name);
            }
            values.put(name, value);
        }
        return values;
    }

    static int run(String[] args) throws Exception {
        Map<String, String> flags = parse(args);
        String guarantee = switch (flags.get("guarantee")) {
            case "exactly-once" -> StreamsConfig.EXACTLY_ONCE_V2;
            case "at-least-once" -> StreamsConfig.AT_LEAST_ONCE;
            default -> throw new UsageException("--guarantee must be exactly-once or at-least-once");
        };
        int threads = positive(flags, "threads");
        int commitIntervalMs = positive(flags, "commit-interval-ms");
        int shutdownSecs = positive(flags, "shutdown-timeout-secs");
        String input = flags.get("input-topic");
        String output = flags.get("output-topic");
        String dlq = flags.get("dlq-topic");
        if (input.equals(output) || input.equals(dlq) || output.equals(dlq)) {
            throw new UsageException("the input, output and dead-letter topics must differ");
        }

        // Bound what one malformed message can make Avro allocate (before Avro loads).
        String limit = Integer.toString(Codec.MAX_PAYLOAD_BYTES);
        System.setProperty("org.apache.avro.limits.string.maxLength",
                System.getProperty("org.apache.avro.limits.string.maxLength", limit));
        System.setProperty("org.apache.avro.limits.bytes.maxLength",
                System.getProperty("org.apache.avro.limits.bytes.maxLength", limit));
        System.setProperty("org.apache.avro.limits.collectionItems.maxLength",
                System.getProperty("org.apache.avro.limits.collectionItems.maxLength", limit));

        Path schemasDir = Path.of(flags.get("schemas-dir"));
        List<Schema> inputVersions = Schemas.versions(schemasDir, "OrderEvent");
        List<Schema> outputVersions = Schemas.versions(schemasDir, "OrderValidation");
        Schema outputSchema = outputVersions.get(outputVersions.size() - 1);
        OrderRules rules = new OrderRules();
        String applicationId = flags.get("application-id");

        Topology topology = new Topology();
        topology.addSource("input", new ByteArrayDeserializer(), new ByteArrayDeserializer(), input);
        topology.addProcessor(
                "validate",
                () -> new ValidateProcessor(inputVersions, outputSchema, rules, "output", "dlq", applicationId),
                "input");
        topology.addSink("output", output, new ByteArraySerializer(), new ByteArraySerializer(), "validate");
        topology.addSink("dlq", dlq, new ByteArraySerializer(), new ByteArraySerializer(), "validate");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, flags.get("bootstrap-servers"));
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class);
        // No global stores here; the setting only silences a start-up warning of 4.x.
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        if (!flags.get("state-dir").isEmpty()) {
            props.put(StreamsConfig.STATE_DIR_CONFIG, flags.get("state-dir"));
        }
        // Producer settings of the Rust workers.
        props.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        props.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
        props.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        props.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), true);
        // Exactly-once implies read_committed; the Rust worker reads committed data with
        // at-least-once too.
        if (guarantee.equals(StreamsConfig.AT_LEAST_ONCE)) {
            props.put(StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
        }
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        KafkaStreams streams = new KafkaStreams(topology, props);
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicInteger exitCode = new AtomicInteger(0);
        AtomicBoolean announced = new AtomicBoolean(false);
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING && announced.compareAndSet(false, true)) {
                System.out.println("started");
                System.out.flush();
            }
            if (now == KafkaStreams.State.ERROR) {
                exitCode.set(1);
                stopped.countDown();
            }
            if (now == KafkaStreams.State.NOT_RUNNING) {
                stopped.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("error: stream thread failed: " + e);
            exitCode.set(1);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Thread hook = new Thread(() -> {
            CLOSING.set(true);
            streams.close(Duration.ofSeconds(shutdownSecs));
            stopped.countDown();
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        streams.start();
        stopped.await();
        if (!CLOSING.get()) {
            // Stopped by itself (an error): close here, the hook is not needed any more.
            Runtime.getRuntime().removeShutdownHook(hook);
            streams.close(Duration.ofSeconds(shutdownSecs));
        }
        return exitCode.get();
    }

    private static int positive(Map<String, String> flags, String name) throws UsageException {
        try {
            int value = Integer.parseInt(flags.get(name));
            if (value < 1) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a positive integer, got " + flags.get(name));
        }
    }
}
