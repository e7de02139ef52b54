package dev.rage2e.kb;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.qa.SquadReader;
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
 * names the line of the article or paragraph at fault. Deduplication is the builder's job. An article without a
 * {@code title} (some domain QA sets ship only paragraphs with a {@code document_id}) is titled by the article's or
 * the paragraph's {@code document_id}, else left untitled; the file's count of such articles is said once on stderr.
 */
final class SquadContextsReader {
    private SquadContextsReader() {}

    static void read(Path file, Consumer<Document> sink) throws IOException {
        int untitled = 0;
        try (InputStream in = Files.newInputStream(file);
                JsonParser p = Json.MAPPER.createParser(in)) {
            try {
                if (p.nextToken() != JsonToken.START_OBJECT)
                    throw error(file, p, "expected a SQuAD JSON object with a 'data' array");
                boolean sawData = false;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = p.currentName();
                    p.nextToken();
                    if (!field.equals("data")) {
                        p.skipChildren();
                        continue;
                    }
                    if (p.currentToken() != JsonToken.START_ARRAY)
                        throw error(file, p, "'data' must be an array of articles");
                    sawData = true;
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        if (!readArticle(file, p, sink)) untitled++;
                    }
                }
                if (!sawData) throw UserException.at(file, 1, "not a SQuAD file: no 'data' array of articles");
                SquadReader.reportUntitled(file, untitled);
            } catch (JsonProcessingException e) {
                long line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
                throw UserException.at(file, line, "invalid JSON: " + e.getOriginalMessage());
            }
        }
    }

    private record Context(String text, String documentId, long line) {}

    /** Reads one article; false when it has no title. */
    private static boolean readArticle(Path file, JsonParser p, Consumer<Document> sink) throws IOException {
        long articleLine = p.currentTokenLocation().getLineNr();
        if (p.currentToken() != JsonToken.START_OBJECT)
            throw error(file, p, "each article must be an object with title and paragraphs");
        String title = null, documentId = null;
        List<Context> contexts = new ArrayList<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            if (field.equals("title")) {
                if (p.currentToken() != JsonToken.VALUE_STRING)
                    throw error(file, p, "article 'title' must be a string");
                title = p.getText();
            } else if (field.equals("document_id") && p.currentToken().isScalarValue()) {
                documentId = p.getText();
            } else if (field.equals("paragraphs")) {
                if (p.currentToken() != JsonToken.START_ARRAY) throw error(file, p, "'paragraphs' must be an array");
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    long line = p.currentTokenLocation().getLineNr();
                    JsonNode para = p.readValueAsTree();
                    JsonNode ctx = para == null ? null : para.get("context");
                    if (ctx == null || !ctx.isTextual())
                        throw UserException.at(file, line, "paragraph without a string 'context'");
                    if (Chunker.words(ctx.asText()).isEmpty())
                        throw UserException.at(file, line, "empty text (paragraph context)");
                    JsonNode doc = para.get("document_id");
                    contexts.add(
                            new Context(ctx.asText(), doc != null && doc.isValueNode() ? doc.asText() : null, line));
                }
            } else {
                p.skipChildren();
            }
        }
        for (Context c : contexts) {
            String t = SquadReader.title(title, documentId, c.documentId());
            sink.accept(new Document(t.replace('_', ' ').strip(), c.text(), file.toString(), c.line()));
        }
        return title != null;
    }

    private static UserException error(Path file, JsonParser p, String problem) {
        return UserException.at(file, p.currentTokenLocation().getLineNr(), problem);
    }
}
