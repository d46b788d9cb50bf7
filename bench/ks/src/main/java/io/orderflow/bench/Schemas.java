package io.orderflow.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.avro.Schema;

/**
 * The repository's schema catalogue: {@code <dir>/<Name>/v<N>.avsc}, every version of
 * one event type, oldest first.
 */
final class Schemas {
    private static final Pattern VERSION = Pattern.compile("v(\\d+)\\.avsc");

    private Schemas() {}

    /** Every version of {@code name} in {@code dir}, oldest first; fails when there is none. */
    static List<Schema> versions(Path dir, String name) throws IOException {
        Path folder = dir.resolve(name);
        if (!Files.isDirectory(folder)) {
            throw new IOException("no schema folder " + folder + " (give --schemas-dir the repository's schemas/)");
        }
        List<Path> files = new ArrayList<>();
        try (Stream<Path> listing = Files.list(folder)) {
            listing.filter(p -> VERSION.matcher(p.getFileName().toString()).matches()).forEach(files::add);
        }
        if (files.isEmpty()) {
            throw new IOException("no v<N>.avsc in " + folder);
        }
        files.sort(Comparator.comparingInt(Schemas::version));
        List<Schema> schemas = new ArrayList<>(files.size());
        for (Path file : files) {
            // A parser per file: each version defines the same named types again.
            schemas.add(new Schema.Parser().parse(Files.readString(file)));
        }
        return schemas;
    }

    private static int version(Path file) {
        Matcher m = VERSION.matcher(file.getFileName().toString());
        if (!m.matches()) {
            throw new IllegalArgumentException(file.toString());
        }
        return Integer.parseInt(m.group(1));
    }
}
