package io.orderflow.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericArray;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * The order-validator as a Kafka Streams processor: decodes an OrderEvent, validates an
 * OrderPlaced and forwards one OrderValidation (key order_id) to the output sink; other
 * payloads produce nothing; an undecodable message goes unchanged (key, value, headers
 * plus a few provenance headers) to the dead-letter sink. Input headers travel on to the
 * output, as Kafka Streams forwards them.
 */
final class ValidateProcessor implements Processor<byte[], byte[], byte[], byte[]> {
    static final String WORKER = "order-validator";
    static final String WORKER_VERSION = "0.1.0";

    private final Codec codec;
    private final OrderRules rules;
    private final DerivedId ids = new DerivedId();
    private final String outputSink;
    private final String dlqSink;
    private final String applicationId;

    private final Schema validationSchema;
    private final Schema validatedSchema;
    private final Schema rejectedSchema;
    private final Schema reasonSchema;
    private final Schema reasonsSchema;

    private ProcessorContext<byte[], byte[]> context;

    ValidateProcessor(
            List<Schema> inputVersions,
            Schema output,
            OrderRules rules,
            String outputSink,
            String dlqSink,
            String applicationId) {
        this.codec = new Codec(inputVersions, output);
        this.rules = rules;
        this.outputSink = outputSink;
        this.dlqSink = dlqSink;
        this.applicationId = applicationId;
        this.validationSchema = output;
        Schema result = output.getField("result").schema();
        this.validatedSchema = branch(result, "OrderValidated");
        this.rejectedSchema = branch(result, "OrderRejected");
        this.reasonsSchema = rejectedSchema.getField("reasons").schema();
        this.reasonSchema = reasonsSchema.getElementType();
    }

    private static Schema branch(Schema union, String name) {
        for (Schema s : union.getTypes()) {
            if (s.getName().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("the OrderValidation schema has no " + name);
    }

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        GenericRecord event;
        try {
            event = codec.decode(record.value());
        } catch (Codec.DecodeException e) {
            deadLetter(record, e.kind, e.getMessage());
            return;
        }
        Object payload = event.get("payload");
        if (!(payload instanceof GenericRecord placed) || !"OrderPlaced".equals(placed.getSchema().getName())) {
            return;
        }
        long now = System.currentTimeMillis();
        long occurredAt = (Long) event.get("occurred_at");
        List<OrderRules.Reason> reasons = rules.validate(toOrder(placed), occurredAt, now);

        String sourceEventId = event.get("event_id").toString();
        String orderId = event.get("order_id").toString();
        GenericData.Record out = new GenericData.Record(validationSchema);
        out.put("event_id", ids.of(WORKER, sourceEventId, 0));
        out.put("causation_id", sourceEventId);
        out.put("order_id", orderId);
        out.put("produced_at", now);
        out.put("worker", WORKER);
        out.put("worker_version", WORKER_VERSION);
        out.put("customer_id", event.get("customer_id").toString());
        if (reasons.isEmpty()) {
            GenericData.Record validated = new GenericData.Record(validatedSchema);
            validated.put("total", placed.get("total"));
            validated.put("currency", placed.get("currency").toString());
            validated.put("line_count", ((GenericArray<?>) placed.get("line_items")).size());
            out.put("result", validated);
        } else {
            GenericData.Array<GenericRecord> list = new GenericData.Array<>(reasons.size(), reasonsSchema);
            for (OrderRules.Reason reason : reasons) {
                GenericData.Record r = new GenericData.Record(reasonSchema);
                r.put("code", reason.code());
                r.put("field", reason.field());
                r.put("message", reason.message());
                list.add(r);
            }
            GenericData.Record rejected = new GenericData.Record(rejectedSchema);
            rejected.put("reasons", list);
            out.put("result", rejected);
        }
        byte[] value;
        try {
            value = codec.encode(out);
        } catch (Exception e) {
            deadLetter(record, "encode", "cannot encode output: " + e);
            return;
        }
        context.forward(record.withKey(orderId.getBytes(StandardCharsets.UTF_8)).withValue(value), outputSink);
    }

    private static OrderRules.Order toOrder(GenericRecord placed) {
        @SuppressWarnings("unchecked")
        GenericArray<GenericRecord> items = (GenericArray<GenericRecord>) placed.get("line_items");
        List<OrderRules.Line> lines = new ArrayList<>(items.size());
        for (GenericRecord item : items) {
            lines.add(new OrderRules.Line(
                    item.get("sku").toString(), (Integer) item.get("quantity"), (Long) item.get("unit_price")));
        }
        GenericRecord address = (GenericRecord) placed.get("shipping_address");
        return new OrderRules.Order(
                lines,
                placed.get("currency").toString(),
                (Long) placed.get("shipping"),
                (Long) placed.get("tax"),
                (Long) placed.get("discount"),
                (Long) placed.get("total"),
                new OrderRules.Address(
                        address.get("recipient").toString(),
                        address.get("line1").toString(),
                        address.get("city").toString(),
                        address.get("postal_code").toString(),
                        address.get("country").toString()),
                placed.get("billing_country").toString(),
                placed.get("customer_email").toString());
    }

    /** Sends the original message, with why it failed, to the dead-letter topic. */
    private void deadLetter(Record<byte[], byte[]> record, String kind, String message) {
        Record<byte[], byte[]> dead = record.withHeaders(record.headers());
        Headers headers = dead.headers();
        RecordMetadata meta = context.recordMetadata().orElse(null);
        if (meta != null) {
            put(headers, "orderflow.dlq.topic", meta.topic());
            put(headers, "orderflow.dlq.partition", Integer.toString(meta.partition()));
            put(headers, "orderflow.dlq.offset", Long.toString(meta.offset()));
        }
        put(headers, "orderflow.dlq.group", applicationId);
        put(headers, "orderflow.dlq.worker", WORKER);
        put(headers, "orderflow.dlq.worker-version", WORKER_VERSION);
        put(headers, "orderflow.dlq.error-class", errorClass(kind));
        put(headers, "orderflow.dlq.error-kind", kind);
        put(headers, "orderflow.dlq.error-message", message);
        put(headers, "orderflow.dlq.failed-at", Long.toString(System.currentTimeMillis()));
        context.forward(dead, dlqSink);
    }

    /** The Rust runtime's error classes: decode, schema, poison. */
    private static String errorClass(String kind) {
        return switch (kind) {
            case "unknown-schema" -> "schema";
            case "encode" -> "poison";
            default -> "decode";
        };
    }

    private static void put(Headers headers, String key, String value) {
        headers.remove(key);
        headers.add(key, value.getBytes(StandardCharsets.UTF_8));
    }
}
