package dev.rage2e.eval;

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

    /** All questions of the file. */
    public static List<QaExample> read(Path file) {
        return read(file, null);
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
        for (int a = 0; a < data.size(); a++) {
            JsonNode art = data.get(a);
            String title = art.path("title").asText(null);
            if (title == null) throw new UserException(file + ": data[" + a + "] has no title");
            seen.add(title);
            if (articles != null && !articles.contains(title)) continue;
            JsonNode paras = art.path("paragraphs");
            for (int p = 0; p < paras.size(); p++) {
                JsonNode qas = paras.get(p).path("qas");
                for (int q = 0; q < qas.size(); q++) {
                    JsonNode qa = qas.get(q);
                    String where = file + ": data[" + a + "].paragraphs[" + p + "].qas[" + q + "]";
                    String question = qa.path("question").asText(null);
                    if (question == null) throw new UserException(where + ": missing 'question'");
                    Set<String> answers = new LinkedHashSet<>();
                    for (JsonNode ans : qa.path("answers")) {
                        if (!ans.path("text").isTextual()) throw new UserException(where + ": answer without 'text'");
                        answers.add(ans.path("text").asText());
                    }
                    if (answers.isEmpty()) continue; // unanswerable (SQuAD 2.0 style): nothing to score against
                    out.add(new QaExample(qa.path("id").asText(where), question, new ArrayList<>(answers), title));
                }
            }
        }
        if (articles != null) {
            for (String t : articles) {
                if (!seen.contains(t)) throw new UserException(file + ": no article titled '" + t + "'");
            }
        }
        return out;
    }
}
