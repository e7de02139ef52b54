package dev.rage2e.reader;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import dev.rage2e.model.TextTokenizer;
import java.util.Arrays;

/**
 * One reader input, {@code [CLS] question [SEP] title text [SEP]} with token types 0 (question) and 1 (passage),
 * as {@code BertForQuestionAnswering} was trained on SQuAD. Answers are spans of the passage TEXT only (title
 * tokens cannot start or end one); each text token keeps its character span in {@code text}, so an answer is cut
 * from the original string (case, accents and punctuation intact), not detokenised.
 *
 * @param textStart position of the first text token in {@code ids}
 * @param charStart per text token, its first character in {@code text}
 * @param charEnd per text token, one past its last character
 */
public record SpanInput(long[] ids, long[] typeIds, int textStart, int[] charStart, int[] charEnd, String text) {
    /** Number of text tokens (a span's start and end are in [textStart, textStart + textTokens)). */
    public int textTokens() {
        return charStart.length;
    }

    /**
     * Whether text token {@code i} (0-based among text tokens) may start or end an answer: it holds a letter or digit,
     * and is not an article, so spans do not begin or end on what SQuAD's normalisation drops anyway: ", the Eiffel
     * Tower" and "The Eiffel Tower" are not extra copies of "Eiffel Tower".
     */
    public boolean canBound(int i) {
        String t = text.substring(charStart[i], charEnd[i]);
        if (t.equalsIgnoreCase("a") || t.equalsIgnoreCase("an") || t.equalsIgnoreCase("the")) return false;
        for (int c = 0; c < t.length(); c++) if (Character.isLetterOrDigit(t.charAt(c))) return true;
        return false;
    }

    /** The passage text covered by tokens {@code start..end} (inclusive, positions in {@code ids}). */
    public String spanText(int start, int end) {
        return text.substring(charStart[start - textStart], charEnd[end - textStart]);
    }

    /**
     * Builds the input; the question is cut to {@code maxQuestionTokens}, the title to 32 tokens and the text to
     * what fits in {@code maxLen}.
     */
    public static SpanInput build(
            TextTokenizer tok, String question, String title, String text, int maxLen, int maxQuestionTokens) {
        long[] cs = clsSep(tok);
        return build(tok, cs[0], cs[1], question, title, text, maxLen, maxQuestionTokens);
    }

    /** The tokenizer's {cls, sep} ids: what it wraps an empty text in ([CLS] [SEP] for BERT vocabularies). */
    public static long[] clsSep(TextTokenizer tok) {
        long[] special = tok.raw().encode("", true, false).getIds();
        return new long[] {special.length > 0 ? special[0] : 101, special.length > 1 ? special[special.length - 1] : 102
        };
    }

    /** As above with the special ids given (looked up once per reader, not per input). */
    public static SpanInput build(
            TextTokenizer tok,
            long cls,
            long sep,
            String question,
            String title,
            String text,
            int maxLen,
            int maxQuestionTokens) {
        long[] q = head(tok.raw().encode(question, false, false).getIds(), maxQuestionTokens);
        long[] t = title == null || title.isEmpty()
                ? new long[0]
                : head(tok.raw().encode(title, false, false).getIds(), 32);
        Encoding te = tok.raw().encode(text, false, false);
        int budget = Math.max(1, maxLen - 3 - q.length - t.length);
        long[] x = head(te.getIds(), budget);
        CharSpan[] spans = te.getCharTokenSpans();
        int n = x.length;
        int[] cs = new int[n], ce = new int[n];
        for (int i = 0; i < n; i++) {
            cs[i] = Math.max(0, Math.min(text.length(), spans[i].getStart()));
            ce[i] = Math.max(cs[i], Math.min(text.length(), spans[i].getEnd()));
        }
        int len = 3 + q.length + t.length + n;
        long[] ids = new long[len], types = new long[len];
        int p = 0;
        ids[p++] = cls;
        for (long v : q) ids[p++] = v;
        ids[p++] = sep;
        int typeFrom = p;
        for (long v : t) ids[p++] = v;
        int textStart = p;
        for (long v : x) ids[p++] = v;
        ids[p++] = sep;
        Arrays.fill(types, typeFrom, len, 1L);
        return new SpanInput(ids, types, textStart, cs, ce, text);
    }

    private static long[] head(long[] a, int n) {
        return a.length <= n ? a : Arrays.copyOf(a, n);
    }
}
