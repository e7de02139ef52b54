package dev.rage2e.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.testutil.MavenJars;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our BertModel, loaded from weights converted out of an ONNX file, against ONNX Runtime running
 * that very file: token-level hidden states must agree within 1e-4 on varied inputs.
 */
class OnnxParityTest {
    static final double TOLERANCE = 1e-4;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"all-minilm-l6-v2", "e5-small-v2", "bge-small-en-v1.5"})
    void hiddenStatesMatchOnnxRuntime(String name) throws Exception {
        ModelCatalog.Entry entry = ModelCatalog.get(name);
        Path jar = MavenJars.locate(name + ".onnx", entry.groupId(), entry.artifactId(), entry.version());
        ConvertedBert converted = ModelCatalog.convert(entry, jar);
        Path dir = tmp.resolve(name);
        ModelDirs.write(converted, entry.settings(), dir, false);

        byte[] onnx;
        try (ZipFile z = new ZipFile(jar.toFile())) {
            onnx = z.getInputStream(z.getEntry(name + ".onnx")).readAllBytes();
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(2);
            try (OrtSession ort = env.createSession(onnx, opts);
                    NDManager root = NDManager.newBaseManager();
                    EncoderModel enc = EncoderModel.load(dir, root)) {
                double worst = 0;
                int tokens = 0;
                for (Case c : cases(enc)) {
                    try (NDManager m = root.newSubManager()) {
                        float[] ours = ours(m, enc, c);
                        float[] ref = onnxRuntime(env, ort, c);
                        double d = maxAbsDiffOnRealTokens(ours, ref, c, enc.dim());
                        assertTrue(d <= TOLERANCE, name + " / " + c.what + ": max |ours - onnxruntime| = " + d);
                        worst = Math.max(worst, d);
                        for (long[] s : c.ids) tokens += s.length;
                    }
                }
                System.out.printf(
                        "%s: %d cases, %d tokens, max abs diff of last_hidden_state vs ONNX Runtime = %.3g%n",
                        name, cases(enc).size(), tokens, worst);
            }
        }
    }

    /** One forward: a right-padded batch of token ids with optional token types. */
    record Case(String what, long[][] ids, long[][] types) {}

    static List<Case> cases(EncoderModel enc) {
        TextTokenizer tok = enc.tokenizer();
        StringBuilder longText = new StringBuilder();
        String[] words = {
            "retrieval",
            "augmented",
            "generation",
            "combines",
            "a",
            "dense",
            "passage",
            "index",
            "with",
            "seq2seq",
            "models,",
            "and",
            "the",
            "encoders",
            "are",
            "trained",
            "end-to-end;",
            "meanwhile",
            "Wikipedia",
            "articles",
            "(2018)"
        };
        for (int i = 0; i < 700; i++)
            longText.append(words[(i * 7 + i / 5) % words.length]).append(' ');
        List<Case> out = new ArrayList<>();
        out.add(single(tok, "short", "hi", 512));
        out.add(single(tok, "700 words truncated to 512 tokens", longText.toString(), 512));
        out.add(single(tok, "300+ tokens truncated to 260", longText.substring(0, 2500), 260));
        out.add(single(
                tok,
                "punctuation",
                "Wait... what?! (Really) -- yes: 100% [sure]; e-mail a.b@c.org, #tag & $5.99 \"quoted\" 'single'",
                512));
        out.add(single(tok, "accents", "Café naïve résumé — Ünïcödé straße, façade, Ærøskøbing, São Paulo", 512));
        out.add(single(tok, "CJK, Cyrillic and emoji", "東京は日本の首都です。 Привет, мир! 🙂👍 ελληνικά", 512));
        out.add(single(
                tok,
                "code and numbers",
                "x = f(3.14159) + 2^10; if (a <= b) { return -1; } // 0xDEADBEEF 1,000,000",
                512));
        out.add(single(tok, "whitespace and controls", "  tabs\tand\nnewlines \u00a0 nbsp \u200b zero-width  ", 512));
        List<String> batch = List.of(
                "query: how much protein should a female eat",
                "passage: As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 "
                        + "is 46 grams per day. "
                        + "But, as you can see from this chart, you'll need to increase that if you're expecting "
                        + "or training for a marathon.",
                "ok",
                "The quick brown fox jumps over the lazy dog.");
        out.add(new Case("batch of 4 with padding", tok.encodeBatch(batch, 512), null));
        Encoding pair =
                tok.encodePair("What is the capital of France?", "Paris is the capital and largest city of France.");
        out.add(new Case(
                "sentence pair with token types", new long[][] {pair.getIds()}, new long[][] {pair.getTypeIds()}));
        return out;
    }

    static Case single(TextTokenizer tok, String what, String text, int maxLen) {
        return new Case(what, new long[][] {tok.encode(text, maxLen)}, null);
    }

    static float[] ours(NDManager m, EncoderModel enc, Case c) {
        TextTokenizer.Batch b = TextTokenizer.pad(m, c.ids, enc.config.padTokenId());
        NDArray types =
                c.types == null ? null : m.create(padded(c.types, 0), b.ids().getShape());
        return enc.bert
                .forward(b.ids(), b.mask(), types, false)
                .lastHiddenState()
                .toFloatArray();
    }

    static float[] onnxRuntime(OrtEnvironment env, OrtSession ort, Case c) throws OrtException {
        int len = 0;
        for (long[] s : c.ids) len = Math.max(len, s.length);
        long[] shape = {c.ids.length, len};
        long[] mask = new long[c.ids.length * len];
        for (int i = 0; i < c.ids.length; i++) java.util.Arrays.fill(mask, i * len, i * len + c.ids[i].length, 1);
        long[] types = c.types == null ? new long[c.ids.length * len] : padded(c.types, 0);
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(padded(c.ids, 0)), shape));
            in.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            if (ort.getInputNames().contains("token_type_ids")) {
                in.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape));
            }
            try (OrtSession.Result r = ort.run(in)) {
                OnnxTensor out = (OnnxTensor) r.get(0);
                assertEquals(3, out.getInfo().getShape().length, "first ONNX output must be the last hidden state");
                float[] f = new float[(int) (shape[0] * shape[1] * out.getInfo().getShape()[2])];
                out.getFloatBuffer().get(f);
                return f;
            }
        } finally {
            for (OnnxTensor t : in.values()) t.close();
        }
    }

    static long[] padded(long[][] rows, long pad) {
        int len = 0;
        for (long[] s : rows) len = Math.max(len, s.length);
        long[] out = new long[rows.length * len];
        java.util.Arrays.fill(out, pad);
        for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, out, i * len, rows[i].length);
        return out;
    }

    static double maxAbsDiffOnRealTokens(float[] a, float[] b, Case c, int hidden) {
        assertEquals(b.length, a.length, "output sizes differ");
        int len = a.length / hidden / c.ids.length;
        double worst = 0;
        for (int i = 0; i < c.ids.length; i++) {
            for (int t = 0; t < c.ids[i].length; t++) {
                int base = (i * len + t) * hidden;
                for (int j = 0; j < hidden; j++) {
                    double d = Math.abs((double) a[base + j] - b[base + j]);
                    if (Double.isNaN(d)) return Double.NaN;
                    worst = Math.max(worst, d);
                }
            }
        }
        return worst;
    }
}
