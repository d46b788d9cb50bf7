package io.orderflow.resolution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;

/**
 * Runs the schema resolution table through the Java Avro library (GenericDatumReader
 * with a writer's and a reader's schema, as the Confluent deserializer does).
 *
 * <p>For each case: reads the writer's datum from Avro's JSON encoding, writes it in
 * Avro binary, reads that back with both schemas, and prints one JSON line: {"name",
 * "value"} with what Java read in Avro's JSON encoding of the reader's schema, {"name",
 * "error"} when Java refuses, or {"name", "setup"} when the datum could not even be
 * written (a fault of the table or of this program).
 */
public final class ResolutionCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    JsonNode table = JSON.readTree(new File(args[0]));
    for (JsonNode testCase : table.get("cases")) {
      System.out.println(JSON.writeValueAsString(run(testCase)));
    }
  }

  private static ObjectNode run(JsonNode testCase) {
    ObjectNode out = JSON.createObjectNode();
    out.put("name", testCase.get("name").asText());
    Schema writer;
    byte[] bytes;
    try {
      writer = new Schema.Parser().parse(testCase.get("writer").toString());
      Object datum =
          new GenericDatumReader<Object>(writer)
              .read(
                  null,
                  DecoderFactory.get().jsonDecoder(writer, testCase.get("datum").toString()));
      ByteArrayOutputStream binary = new ByteArrayOutputStream();
      BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(binary, null);
      new GenericDatumWriter<Object>(writer).write(datum, encoder);
      encoder.flush();
      bytes = binary.toByteArray();
    } catch (Exception | StackOverflowError e) {
      out.put("setup", e.toString());
      return out;
    }
    Object value;
    Schema reader;
    try {
      reader = new Schema.Parser().parse(testCase.get("reader").toString());
      BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, null);
      value = new GenericDatumReader<Object>(writer, reader).read(null, decoder);
      if (!decoder.isEnd()) {
        throw new IllegalStateException("trailing bytes after the datum");
      }
    } catch (Exception | StackOverflowError e) {
      out.put("error", e.toString());
      return out;
    }
    try {
      ByteArrayOutputStream json = new ByteArrayOutputStream();
      JsonEncoder encoder = EncoderFactory.get().jsonEncoder(reader, json);
      new GenericDatumWriter<Object>(reader).write(value, encoder);
      encoder.flush();
      out.set("value", JSON.readTree(json.toString(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      out.put("setup", "cannot render " + value + ": " + e);
    }
    return out;
  }
}
