package dev.rage2e.rag;

import dev.rage2e.kb.Chunker;
import dev.rage2e.qa.QaExample;
import java.util.List;

/**
 * A question's gold passage as the KB would hold it: its SQuAD paragraph cut into the KB's passages of
 * {@value #WORDS} words, the first that contains a gold answer (a passage whose answer straddles a cut gets a
 * window of the same size around the answer instead), titled as the KB titles articles (underscores as spaces).
 */
public final class GoldPassages {
    static final int WORDS = 100;

    private GoldPassages() {}

    /** The gold passage, or null when the example has no context or no answer occurs in it. */
    public static Retriever.Passage of(QaExample e) {
        return of(e, false);
    }

    /** As {@link #of(QaExample)}; with {@code wholeParagraph} the passage is the whole SQuAD paragraph. */
    public static Retriever.Passage of(QaExample e, boolean wholeParagraph) {
        if (e.context() == null) return null;
        String title = e.title() == null ? "" : e.title().replace('_', ' ');
        if (wholeParagraph) {
            for (String a : e.answers())
                if (e.context().contains(a)) return new Retriever.Passage(-1, title, e.context());
            return null;
        }
        for (String chunk : Chunker.chunk(e.context(), WORDS)) {
            for (String a : e.answers()) if (chunk.contains(a)) return new Retriever.Passage(-1, title, chunk);
        }
        List<String> words = Chunker.words(e.context());
        for (String a : e.answers()) {
            int at = e.context().indexOf(a);
            if (at < 0) continue;
            int w = Chunker.words(e.context().substring(0, at)).size(); // words before the answer
            int from = Math.max(0, Math.min(words.size() - WORDS, w - WORDS / 2));
            return new Retriever.Passage(
                    -1, title, String.join(" ", words.subList(from, Math.min(words.size(), from + WORDS))));
        }
        return null;
    }
}
