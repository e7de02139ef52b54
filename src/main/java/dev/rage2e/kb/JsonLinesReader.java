package dev.rage2e.kb;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** JSON Lines documents: one object per line with string fields {@code title} and {@code text}. */
final class JsonLinesReader {
    private JsonLinesReader() {}

    static void read(Path file, Consumer<Document> sink) throws IOException {
        try (Utf8Lines lines = new Utf8Lines(file)) {
            String s;
            while ((s = lines.next()) != null) {
                if (s.isBlank()) continue;
                long line = lines.lineNumber();
                JsonNode n;
                try {
                    n = Json.MAPPER.readTree(s);
                } catch (JsonProcessingException e) {
                    throw UserException.at(file, line, "invalid JSON: " + e.getOriginalMessage());
                }
                if (n == null || !n.isObject())
                    throw UserException.at(file, line, "expected a JSON object with title and text");
                String title = stringField(n, "title", file, line);
                String text = stringField(n, "text", file, line);
                if (Chunker.words(text).isEmpty()) throw UserException.at(file, line, "empty text");
                sink.accept(new Document(title.strip(), text, file.toString(), line));
            }
        }
    }

    private static String stringField(JsonNode n, String name, Path file, long line) {
        JsonNode v = n.get(name);
        if (v == null) throw UserException.at(file, line, "missing field '" + name + "'");
        if (!v.isTextual())
            throw UserException.at(file, line, "field '" + name + "' must be a string, got " + v.getNodeType());
        return v.asText();
    }
}
