package dev.rage2e.qa;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Questions of a SQuAD-format file ({@code data[].paragraphs[].qas[]}), optionally only those of some
 * articles. Answers keep file order with exact duplicates removed (SQuAD lists one per annotator).
 */
public final class SquadReader {
    private SquadReader() {}

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /** All questions of the file. */
    public static List<QaExample> read(Path file) {
        return read(file, null);
    }

    /** Article titles of a SQuAD file, in file order. */
    public static Set<String> titles(Path file) {
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode art : Json.read(file).path("data")) {
            String t = articleTitle(art);
            if (t != null) out.add(t);
            else for (JsonNode para : art.path("paragraphs")) out.add(title(null, para));
        }
        return out;
    }

    /**
     * An article's title; without one (some domain QA sets ship only paragraphs with a {@code document_id}) its
     * {@code document_id}; null when it has neither (its paragraphs are then titled by their own document_id).
     */
    static String articleTitle(JsonNode article) {
        String t = value(article, "title"), d = value(article, "document_id");
        return t == null && d == null ? null : title(t, d, null);
    }

    /** The title a paragraph's questions carry: its article's, else the paragraph's document_id, else empty. */
    static String title(String articleTitle, JsonNode paragraph) {
        return title(articleTitle, null, value(paragraph, "document_id"));
    }

    /**
     * The one rule for what titles a paragraph (here and in the KB's SQuAD reader): the article's {@code title}, else
     * the article's {@code document_id}, else the paragraph's, else empty.
     */
    public static String title(String articleTitle, String articleDocumentId, String paragraphDocumentId) {
        if (articleTitle != null) return articleTitle;
        if (articleDocumentId != null) return articleDocumentId;
        return paragraphDocumentId != null ? paragraphDocumentId : "";
    }

    /** Says once per file how many of its articles had no title (nothing when none). */
    public static void reportUntitled(Path file, int articles) {
        if (articles > 0) {
            System.err.printf(
                    "%s: %d article(s) without a 'title': titled by their document_id where present, "
                            + "else untitled%n",
                    file, articles);
        }
    }

    private static String value(JsonNode node, String field) {
        return node.path(field).isValueNode() ? node.path(field).asText() : null;
    }

    /**
     * Questions of the named articles (SQuAD titles, underscores as in the file), in file order;
     * null means every article. An article name that is not in the file is an error.
     */
    public static List<QaExample> read(Path file, Set<String> articles) {
        JsonNode root = Json.read(file);
        JsonNode data = root.path("data");
        if (!data.isArray()) throw new UserException(file + ": not a SQuAD file (no 'data' array)");
        List<QaExample> out = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        int untitled = 0;
        for (int a = 0; a < data.size(); a++) {
            JsonNode art = data.get(a);
            if (!art.path("title").isValueNode()) untitled++;
            String articleTitle = articleTitle(art);
            JsonNode paras = art.path("paragraphs");
            if (!paras.isArray()) throw new UserException(file + ": data[" + a + "]: 'paragraphs' must be an array");
            for (int p = 0; p < paras.size(); p++) {
                JsonNode para = paras.get(p);
                String title = title(articleTitle, para);
                seen.add(title);
                if (articles != null && !articles.contains(title)) continue;
                String pWhere = file + ": data[" + a + "].paragraphs[" + p + "]";
                JsonNode qas = para.path("qas");
                if (!qas.isMissingNode() && !qas.isArray())
                    throw new UserException(pWhere + ": 'qas' must be an array");
                String context =
                        para.path("context").isTextual() ? para.path("context").asText() : null;
                for (int q = 0; q < qas.size(); q++) {
                    JsonNode qa = qas.get(q);
                    String where = pWhere + ".qas[" + q + "]";
                    if (!qa.isObject())
                        throw new UserException(where + ": expected an object with 'question' and 'answers'");
                    JsonNode qn = qa.path("question");
                    if (qn.isMissingNode() || qn.isNull()) throw new UserException(where + ": missing 'question'");
                    if (!qn.isTextual())
                        throw new UserException(where + ": 'question' must be a string, got " + qn.getNodeType());
                    String question = qn.asText();
                    if (question.isBlank()) throw new UserException(where + ": empty 'question'");
                    JsonNode ans = qa.path("answers");
                    if (!ans.isMissingNode() && !ans.isArray())
                        throw new UserException(where + ": 'answers' must be an array");
                    Set<String> answers = new LinkedHashSet<>();
                    for (int i = 0; i < ans.size(); i++) {
                        JsonNode an = ans.get(i);
                        if (!an.path("text").isTextual())
                            throw new UserException(where + ".answers[" + i + "]: answer without a string 'text'");
                        String text = an.path("text").asText();
                        // SQuAD answers are spans of their paragraph; one that is not there means a mangled file
                        if (context != null && an.has("answer_start") && !context.contains(text)) {
                            throw new UserException(where + ".answers[" + i + "]: answer '" + abbreviate(text)
                                    + "' is not in the context");
                        }
                        answers.add(text);
                    }
                    if (answers.isEmpty()) continue; // unanswerable (SQuAD 2.0 style): nothing to score against
                    out.add(new QaExample(
                            qa.path("id").asText(where), question, new ArrayList<>(answers), title, context));
                }
            }
        }
        reportUntitled(file, untitled);
        if (articles != null) {
            for (String t : articles) {
                if (!seen.contains(t)) throw new UserException(file + ": no article titled '" + t + "'");
            }
        }
        return out;
    }
}
