package io.orderflow.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Writes OrderPlaced events for the orderflow workers with kafka-clients and Apache Avro.
 *
 * <p>Without {@code --registry-url} every value is Avro single-object encoded, which Avro's
 * {@link BinaryMessageEncoder} writes: C3 01, the 8-byte CRC-64-AVRO fingerprint of the schema
 * (little-endian), then the datum. The workers find that fingerprint among the schemas of the
 * repository's schemas/ folder: no schema registry is involved.
 *
 * <p>With {@code --registry-url} the schema is registered under the subject {@code <topic>-value}
 * and every value is framed the Confluent way: 00, the 4-byte schema id (big-endian), then the
 * datum. Start the workers with the same {@code --schema-registry-url}.
 *
 * <p>Each acknowledged event is printed as one line: {@code delivered order_id=... event_id=...
 * partition=... offset=...}.
 */
public final class OrderEventProducer {
  /** The contract is the .avsc file in the repository, never a copy of it. */
  private static final String SCHEMA = "../../../schemas/OrderEvent/v2.avsc";

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parse(argv);
    String bootstrapServers = args.getOrDefault("bootstrap-servers", "127.0.0.1:9092");
    String topic = args.getOrDefault("topic", "orders.lifecycle");
    int count = Integer.parseInt(args.getOrDefault("count", "10"));
    String registryUrl = args.get("registry-url");
    String schemaText = Files.readString(Path.of(args.getOrDefault("schema", SCHEMA)));
    Schema schema = new Schema.Parser().parse(schemaText);

    ValueSerializer serialize;
    if (registryUrl == null) {
      BinaryMessageEncoder<GenericRecord> encoder =
          new BinaryMessageEncoder<>(GenericData.get(), schema);
      serialize = event -> toBytes(encoder.encode(event));
    } else {
      int schemaId = register(registryUrl, topic + "-value", schemaText);
      serialize = event -> confluentFramed(schemaId, schema, event);
    }

    Properties config = new Properties();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    // Idempotence with acks=all keeps retries from writing an event twice or out of order.
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer())) {
      List<GenericRecord> events = new ArrayList<>();
      List<Future<RecordMetadata>> acks = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        GenericRecord event = orderPlaced(schema, "java-example");
        String orderId = event.get("order_id").toString();
        // The key is the order id: every event of one order lands in one partition, in order.
        acks.add(producer.send(new ProducerRecord<>(topic, orderId, serialize.apply(event))));
        events.add(event);
      }
      for (int i = 0; i < count; i++) {
        RecordMetadata delivered = acks.get(i).get();
        System.out.printf(
            "delivered order_id=%s event_id=%s partition=%d offset=%d%n",
            events.get(i).get("order_id"),
            events.get(i).get("event_id"),
            delivered.partition(),
            delivered.offset());
      }
    }
  }

  /** One OrderPlaced event that the order-validator accepts. */
  static GenericRecord orderPlaced(Schema schema, String source) {
    Schema placed = branch(schema.getField("payload").schema(), "io.orderflow.events.OrderPlaced");
    Schema lineItem = placed.getField("line_items").schema().getElementType();
    Schema address = placed.getField("shipping_address").schema();
    Schema channel = placed.getField("sales_channel").schema();

    List<GenericRecord> lines =
        List.of(
            new GenericRecordBuilder(lineItem)
                .set("sku", "SKU-1001")
                .set("quantity", 2)
                .set("unit_price", 1999L)
                .build(),
            new GenericRecordBuilder(lineItem)
                .set("sku", "SKU-2002")
                .set("quantity", 1)
                .set("unit_price", 4500L)
                .build());
    long shipping = 495;
    long tax = 0;
    long discount = 0;
    long total = shipping + tax - discount;
    for (GenericRecord line : lines) {
      total += (Integer) line.get("quantity") * (Long) line.get("unit_price");
    }
    GenericRecord order =
        new GenericRecordBuilder(placed)
            .set("line_items", lines)
            .set("currency", "EUR")
            .set("shipping", shipping)
            .set("tax", tax)
            .set("discount", discount)
            .set("total", total)
            .set(
                "shipping_address",
                new GenericRecordBuilder(address)
                    .set("recipient", "Ada Lovelace")
                    .set("line1", "Hauptstraße 1")
                    .set("line2", null)
                    .set("city", "Berlin")
                    .set("postal_code", "10115")
                    .set("region", null)
                    .set("country", "DE")
                    .build())
            .set("billing_country", "DE")
            .set("customer_email", "ada@example.com")
            .set("new_customer", false)
            .set("sales_channel", new GenericData.EnumSymbol(channel, "WEB"))
            .build();
    return new GenericRecordBuilder(schema)
        .set("event_id", UUID.randomUUID().toString())
        .set("order_id", "ord-" + UUID.randomUUID())
        .set("customer_id", "cus-42")
        .set("occurred_at", System.currentTimeMillis())
        .set("source", source)
        .set("payload", order)
        .build();
  }

  /** The branch of a union named {@code fullName}. */
  private static Schema branch(Schema union, String fullName) {
    return union.getTypes().stream()
        .filter(s -> s.getFullName().equals(fullName))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no " + fullName + " in " + union));
  }

  /** Registers the schema under {@code subject} (or finds it there) and returns its id. */
  static int register(String registryUrl, String subject, String schemaText)
      throws IOException, InterruptedException {
    ObjectMapper json = new ObjectMapper();
    URI uri =
        URI.create(
            registryUrl.replaceAll("/+$", "")
                + "/subjects/"
                + URLEncoder.encode(subject, StandardCharsets.UTF_8)
                + "/versions");
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    json.writeValueAsString(Map.of("schema", schemaText))))
            .build();
    HttpResponse<String> response =
        HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() / 100 != 2) {
      throw new IOException(
          "registering the schema at " + uri + ": " + response.statusCode() + " " + response.body());
    }
    return json.readTree(response.body()).get("id").asInt();
  }

  /** 00, the schema id in 4 bytes big-endian, then the Avro datum. */
  static byte[] confluentFramed(int schemaId, Schema schema, GenericRecord event)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0);
    out.write(ByteBuffer.allocate(4).putInt(schemaId).array());
    BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
    new GenericDatumWriter<GenericRecord>(schema).write(event, encoder);
    encoder.flush();
    return out.toByteArray();
  }

  private static byte[] toBytes(ByteBuffer buffer) {
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return bytes;
  }

  /** {@code --name value} pairs. */
  private static Map<String, String> parse(String[] argv) {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i < argv.length; i += 2) {
      if (!argv[i].startsWith("--") || i + 1 == argv.length) {
        throw new IllegalArgumentException(
            "usage: [--bootstrap-servers host:port] [--topic name] [--count n]"
                + " [--registry-url url] [--schema path]");
      }
      args.put(argv[i].substring(2), argv[i + 1]);
    }
    return args;
  }

  /** Serializes one event to a record value. */
  @FunctionalInterface
  interface ValueSerializer {
    byte[] apply(GenericRecord event) throws IOException;
  }
}
