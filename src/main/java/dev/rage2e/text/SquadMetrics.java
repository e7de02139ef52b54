package dev.rage2e.text;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * SQuAD v1.1's official answer normalisation (lower case, drop ASCII punctuation, drop the articles
 * a/an/the, collapse whitespace) and the exact-match and token-F1 scores, maximised over gold answers.
 */
public final class SquadMetrics {
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    /** Python's re.sub(r'\b(a|an|the)\b', ' ', text), with Unicode word boundaries as in Python 3. */
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);

    private SquadMetrics() {}

    public static String normalize(String s) {
        String lower = s.toLowerCase(Locale.ROOT);
        StringBuilder b = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) b.append(c);
        }
        return String.join(" ", tokens(ARTICLES.matcher(b).replaceAll(" ")));
    }

    /** Python's str.split(): runs of Unicode whitespace. */
    private static List<String> tokens(String s) {
        return dev.rage2e.kb.Chunker.words(s);
    }

    public static boolean exactMatch(String prediction, String gold) {
        return normalize(prediction).equals(normalize(gold));
    }

    public static double f1(String prediction, String gold) {
        List<String> p = tokens(normalize(prediction));
        List<String> g = tokens(normalize(gold));
        Map<String, Integer> counts = new HashMap<>();
        for (String t : g) counts.merge(t, 1, Integer::sum);
        int common = 0;
        for (String t : p) {
            Integer c = counts.get(t);
            if (c != null && c > 0) {
                common++;
                counts.put(t, c - 1);
            }
        }
        if (common == 0) return 0.0;
        double precision = (double) common / p.size();
        double recall = (double) common / g.size();
        return 2 * precision * recall / (precision + recall);
    }

    public static double maxExactMatch(String prediction, List<String> golds) {
        for (String g : golds) if (exactMatch(prediction, g)) return 1.0;
        return 0.0;
    }

    public static double maxF1(String prediction, List<String> golds) {
        double best = 0;
        for (String g : golds) best = Math.max(best, f1(prediction, g));
        return best;
    }
}
