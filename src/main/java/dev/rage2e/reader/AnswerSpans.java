package dev.rage2e.reader;

import dev.rage2e.text.SquadMetrics;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Every token span of a reader input whose text equals a gold answer under the official SQuAD v1.1
 * normalisation (lower case, punctuation and articles removed, whitespace collapsed): the spans whose
 * probabilities the reader's likelihood sums (REALM, Guu et al. 2020). An answer that occurs twice in a passage
 * gives two spans; "the Eiffel Tower" and "Eiffel Tower" are the same answer.
 */
public final class AnswerSpans {
    private AnswerSpans() {}

    /** A span by token positions in {@link SpanInput#ids()}, inclusive. */
    public record Span(int start, int end) {}

    public static Set<String> normalized(List<String> answers) {
        Set<String> out = new HashSet<>();
        for (String a : answers) {
            String n = SquadMetrics.normalize(a);
            if (!n.isEmpty()) out.add(n);
        }
        return out;
    }

    /** Spans of at most {@code maxTokens} tokens whose normalised text is in {@code answers} (already normalised). */
    public static List<Span> find(SpanInput in, Set<String> answers, int maxTokens) {
        List<Span> out = new ArrayList<>();
        if (answers.isEmpty()) return out;
        int longest = 0;
        for (String a : answers) longest = Math.max(longest, a.length());
        // normalisation only ever removes a trailing article (<= 4 chars with its space) when a span grows, so once
        // a span's normalised text is longer than the longest answer + 4 no extension can match
        int limit = longest + 4;
        int n = in.textTokens();
        for (int a = 0; a < n; a++) {
            if (!in.canBound(a)) continue;
            int from = in.charStart()[a];
            for (int b = a; b < n && b - a < maxTokens; b++) {
                if (!in.canBound(b)) continue;
                String norm = SquadMetrics.normalize(in.text().substring(from, in.charEnd()[b]));
                if (norm.length() > limit) break;
                if (answers.contains(norm)) out.add(new Span(in.textStart() + a, in.textStart() + b));
            }
        }
        return out;
    }
}
