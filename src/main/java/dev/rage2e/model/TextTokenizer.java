package dev.rage2e.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} (Rust tokenizers via DJL) producing right-padded batches.
 * Thread-safe for encoding.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final Path file;
    private final long padId;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, Path file, long padId) {
        this.tokenizer = tokenizer;
        this.file = file;
        this.padId = padId;
    }

    public static TextTokenizer load(Path tokenizerJson, long padId) {
        if (!Files.isRegularFile(tokenizerJson)) throw new UserException(tokenizerJson + ": file not found");
        try {
            // truncation/padding are applied by us so that the max length can vary per call
            HuggingFaceTokenizer t = HuggingFaceTokenizer.newInstance(
                    tokenizerJson,
                    Map.of(
                            "truncation",
                            "false",
                            "padding",
                            "false",
                            "addSpecialTokens",
                            "true",
                            "modelMaxLength",
                            "100000"));
            return new TextTokenizer(t, tokenizerJson, padId);
        } catch (IOException | RuntimeException e) {
            throw new UserException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    public HuggingFaceTokenizer raw() {
        return tokenizer;
    }

    /** Token ids of {@code text} with special tokens, truncated to {@code maxLen} keeping the final special token. */
    public long[] encode(String text, int maxLen) {
        Encoding e = tokenizer.encode(text);
        return truncate(e.getIds(), maxLen);
    }

    /** Encodes a text pair as [CLS] a [SEP] b [SEP] with token types. */
    public Encoding encodePair(String a, String b) {
        return tokenizer.encode(a, b);
    }

    public long[][] encodeBatch(List<String> texts, int maxLen) {
        Encoding[] enc = tokenizer.batchEncode(texts);
        long[][] out = new long[enc.length][];
        for (int i = 0; i < enc.length; i++) out[i] = truncate(enc[i].getIds(), maxLen);
        return out;
    }

    public String decode(long[] ids, boolean skipSpecial) {
        return tokenizer.decode(ids, skipSpecial);
    }

    public long padId() {
        return padId;
    }

    private static long[] truncate(long[] ids, int maxLen) {
        if (ids.length <= maxLen) return ids;
        long[] t = java.util.Arrays.copyOf(ids, maxLen);
        t[maxLen - 1] = ids[ids.length - 1]; // keep [SEP] / </s>, as HF truncation does
        return t;
    }

    /** Right-padded [B, maxLen in batch] ids and mask. */
    public record Batch(NDArray ids, NDArray mask) {}

    public static Batch pad(NDManager m, long[][] seqs, long padId) {
        int b = seqs.length;
        int len = 1;
        for (long[] s : seqs) len = Math.max(len, s.length);
        long[] ids = new long[b * len];
        long[] mask = new long[b * len];
        java.util.Arrays.fill(ids, padId);
        for (int i = 0; i < b; i++) {
            System.arraycopy(seqs[i], 0, ids, i * len, seqs[i].length);
            java.util.Arrays.fill(mask, i * len, i * len + seqs[i].length, 1L);
        }
        return new Batch(
                m.create(ids, new ai.djl.ndarray.types.Shape(b, len)),
                m.create(mask, new ai.djl.ndarray.types.Shape(b, len)));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
