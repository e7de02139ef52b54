package dev.rage2e.kb;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The context paragraphs of a SQuAD-format file ({@code {"data": [{"title", "paragraphs": [{"context"}]}]}})
 * as documents titled by their article, underscores shown as spaces. Streamed, so that every problem
 * names the line of the article or paragraph at fault. Deduplication is the builder's job.
 */
final class SquadContextsReader {
    private SquadContextsReader() {}

    static void read(Path file, Consumer<Document> sink) throws IOException {
        try (InputStream in = Files.newInputStream(file); JsonParser p = Json.MAPPER.createParser(in)) {
            try {
                if (p.nextToken() != JsonToken.START_OBJECT) throw error(file, p, "expected a SQuAD JSON object with a 'data' array");
                boolean sawData = false;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    p.nextToken();
                    if (!field.equals("data")) {
                        p.skipChildren();
                        continue;
                    }
                    if (p.currentToken() != JsonToken.START_ARRAY) throw error(file, p, "'data' must be an array of articles");
                    sawData = true;
                    while (p.nextToken() != JsonToken.END_ARRAY) readArticle(file, p, sink);
                }
                if (!sawData) throw UserException.at(file, 1, "not a SQuAD file: no 'data' array of articles");
            } catch (JsonProcessingException e) {
                long line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
                throw UserException.at(file, line, "invalid JSON: " + e.getOriginalMessage());
            }
        }
    }

    private record Context(String text, long line) {}

    private static void readArticle(Path file, JsonParser p, Consumer<Document> sink) throws IOException {
        long articleLine = p.currentTokenLocation().getLineNr();
        if (p.currentToken() != JsonToken.START_OBJECT) throw error(file, p, "each article must be an object with title and paragraphs");
        String title = null;
        List<Context> contexts = new ArrayList<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            if (field.equals("title")) {
                if (p.currentToken() != JsonToken.VALUE_STRING) throw error(file, p, "article 'title' must be a string");
                title = p.getText();
            } else if (field.equals("paragraphs")) {
                if (p.currentToken() != JsonToken.START_ARRAY) throw error(file, p, "'paragraphs' must be an array");
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    long line = p.currentTokenLocation().getLineNr();
                    JsonNode para = p.readValueAsTree();
                    JsonNode ctx = para == null ? null : para.get("context");
                    if (ctx == null || !ctx.isTextual()) throw UserException.at(file, line, "paragraph without a string 'context'");
                    if (Chunker.words(ctx.asText()).isEmpty()) throw UserException.at(file, line, "empty text (paragraph context)");
                    contexts.add(new Context(ctx.asText(), line));
                }
            } else {
                p.skipChildren();
            }
        }
        if (title == null) throw UserException.at(file, articleLine, "article without a 'title'");
        String shown = title.replace('_', ' ').strip();
        for (Context c : contexts) sink.accept(new Document(shown, c.text(), file.toString(), c.line()));
    }

    private static UserException error(Path file, JsonParser p, String problem) {
        return UserException.at(file, p.currentTokenLocation().getLineNr(), problem);
    }
}
