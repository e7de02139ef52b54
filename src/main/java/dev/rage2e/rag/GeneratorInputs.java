package dev.rage2e.rag;

import dev.rage2e.model.TextTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the generator's input per (question, passage): {@code title / text // question}, as HF's
 * RagRetriever does (surrounding quotes stripped from titles, double spaces collapsed). When the
 * tokens exceed {@code maxLen}, words are cut from the END OF THE PASSAGE TEXT rather than from the
 * end of the string (HF's plain truncation), so the question is never lost. Only when the question does not fit
 * beside the title alone is the title dropped too, and only when it does
 * not fit on its own is it cut, from its own end.
 */
public final class GeneratorInputs {
    private GeneratorInputs() {}

    public static String combine(String title, String text, String question) {
        String t = title == null ? "" : title;
        if (t.startsWith("\"")) t = t.substring(1);
        if (t.endsWith("\"")) t = t.substring(0, t.length() - 1);
        return (t + RagSettings.TITLE_SEP + text + RagSettings.DOC_SEP + question).replace("  ", " ");
    }

    public static long[] tokenize(TextTokenizer tok, String title, String text, String question, int maxLen) {
        String full = combine(title, text, question);
        long[] ids = tok.encode(full, Integer.MAX_VALUE);
        if (ids.length <= maxLen) return ids;
        String[] words = text.split("\\s+");
        int keep = words.length;
        for (int attempt = 0; attempt < 6 && ids.length > maxLen && keep > 0; attempt++) {
            double perWord = Math.max(1.0, (double) ids.length / Math.max(1, keep + question.split("\\s+").length + 2));
            int drop = (int) Math.ceil((ids.length - maxLen) / perWord) + 1;
            keep = Math.max(0, keep - drop);
            ids = tok.encode(
                    combine(title, String.join(" ", java.util.Arrays.copyOf(words, keep)), question),
                    Integer.MAX_VALUE);
        }
        if (ids.length <= maxLen) return ids;
        ids = tok.encode(combine(title, "", question), Integer.MAX_VALUE);
        if (ids.length <= maxLen) return ids;
        return tok.encode(combine("", "", question), maxLen); // the question alone is too long: cut from its end
    }

    public static List<long[]> forBatch(
            TextTokenizer tok, List<String> questions, List<List<Retriever.Passage>> docs, int maxLen) {
        List<long[]> out = new ArrayList<>();
        for (int b = 0; b < questions.size(); b++) {
            for (Retriever.Passage p : docs.get(b))
                out.add(tokenize(tok, p.title(), p.text(), questions.get(b), maxLen));
        }
        return out;
    }
}
