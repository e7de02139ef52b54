package dev.rage2e.kb;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits text on whitespace into consecutive chunks of at most {@code words} words joined by single
 * spaces (the RAG paper's 100-word passages). Whitespace is Unicode whitespace including no-break
 * spaces, like Python's {@code str.split()}, so counts agree with the Python tooling around the data.
 */
public final class Chunker {
    private Chunker() {}

    public static boolean isSpace(char c) {
        return Character.isWhitespace(c)
                || Character.isSpaceChar(c)
                || c == '\u001c'
                || c == '\u001d'
                || c == '\u001e'
                || c == '\u001f'
                || c == '\u0085';
    }

    public static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        int n = text.length();
        int i = 0;
        while (i < n) {
            while (i < n && isSpace(text.charAt(i))) i++;
            int start = i;
            while (i < n && !isSpace(text.charAt(i))) i++;
            if (i > start) out.add(text.substring(start, i));
        }
        return out;
    }

    public static List<String> chunk(String text, int words) {
        if (words <= 0) throw new IllegalArgumentException("words per passage must be positive, got " + words);
        List<String> w = words(text);
        List<String> out = new ArrayList<>((w.size() + words - 1) / words);
        for (int start = 0; start < w.size(); start += words) {
            out.add(String.join(" ", w.subList(start, Math.min(w.size(), start + words))));
        }
        return out;
    }

    /** Lower-cased with every whitespace run collapsed to one space and trimmed. */
    public static String normalizeSpace(String s) {
        return String.join(" ", words(s.toLowerCase(java.util.Locale.ROOT)));
    }
}
