package dev.rage2e.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.model.GenerationConfig;
import dev.rage2e.model.Seq2SeqModel;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.model.TextTokenizer;
import dev.rage2e.testutil.Fixtures;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Decoding mechanics on the tiny HF fixture models: KV cache, batching with padding, logits processors. */
class GenerationTest {
    /** Encoder inputs of mixed lengths (ids valid for both fixtures' vocabularies). */
    static long[][] inputs(Seq2SeqModel m) {
        long s = m.decoderStartTokenId() == 2 ? 0 : 101, e = m.decoderStartTokenId() == 2 ? 2 : 102;
        return new long[][] {
            {s, 443, 590, 144, 561, 926, 208, e}, {s, 775, 341, 820, e}, {s, 911, e}, {s, 512, 613, 714, 815, 916, e}
        };
    }

    static List<GenerationConfig> configs(GenerationConfig base) {
        GenerationConfig c = base.withMaxLength(12);
        return List.of(
                c.withNumBeams(1),
                c.withNumBeams(3),
                c.withNumBeams(4).withLengthPenalty(2.0).withMinLength(5).withNoRepeatNgramSize(2),
                c.withNumBeams(2)
                        .withEarlyStopping(GenerationConfig.EarlyStopping.TRUE)
                        .withLengthPenalty(0.5),
                c.withNumBeams(3)
                        .withEarlyStopping(GenerationConfig.EarlyStopping.NEVER)
                        .withForcedBosTokenId(5));
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void cachedDecodingEqualsRecomputingThePrefix(String name) {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf(name), m)) {
            for (GenerationConfig cfg : configs(model.generationConfig())) {
                Generation.Result cached = Generation.generate(model, inputs(model), cfg, m);
                Generation.Result full = Generation.generate(model, inputs(model), cfg.withUseCache(false), m);
                assertEquals(full.sequences().length, cached.sequences().length);
                for (int i = 0; i < full.sequences().length; i++) {
                    assertArrayEquals(full.sequences()[i], cached.sequences()[i], name + " " + cfg + " row " + i);
                }
                Fixtures.assertClose(full.scores(), cached.scores(), 1e-5, 1e-5, name + " scores " + cfg);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void stepLogitsEqualTeacherForcedLogits(String name) {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf(name), m)) {
            TextTokenizer.Batch b = TextTokenizer.pad(m, inputs(model), model.padTokenId());
            NDArray enc = model.encode(b.ids(), b.mask(), false);
            long st = model.decoderStartTokenId();
            long[] prefix = {
                st, 300, 301, 302, 303, 304, st, 305, st, 306, 307, 308, 309, 310, 311, 312, st, 313, 314, 315
            };
            NDArray dec = m.create(prefix, new Shape(4, 5));
            NDArray full = model.decode(dec, enc, b.mask(), false);
            try (Seq2SeqModel.DecoderState state = model.startDecoding(enc, b.mask())) {
                for (int t = 0; t < 5; t++) {
                    NDArray logits = model.step(state, dec.get(new NDIndex(":, " + t)));
                    assertEquals(t + 1, state.length());
                    Fixtures.assertClose(
                            full.get(new NDIndex(":, " + t + ", :")).toFloatArray(),
                            logits.toFloatArray(),
                            1e-5,
                            1e-5,
                            name + " step " + t);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void reorderedStateFollowsItsRowsAndLeavesTheOriginalValid(String name) {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf(name), m)) {
            TextTokenizer.Batch b = TextTokenizer.pad(m, inputs(model), model.padTokenId());
            NDArray enc = model.encode(b.ids(), b.mask(), false);
            long st = model.decoderStartTokenId();
            try (Seq2SeqModel.DecoderState a = model.startDecoding(enc, b.mask())) {
                model.step(a, m.create(new long[] {st, st, st, st}));
                model.step(a, m.create(new long[] {300, 301, 302, 303}));
                try (Seq2SeqModel.DecoderState same = a.reorder(m.create(new long[] {0, 1, 2, 3}));
                        Seq2SeqModel.DecoderState mixed = a.reorder(m.create(new long[] {2, 2, 0, 1}))) {
                    a.close(); // the reordered states own (or share) what they need
                    float[] ref = model.step(same, m.create(new long[] {400, 401, 402, 403}))
                            .toFloatArray();
                    float[] got = model.step(mixed, m.create(new long[] {402, 402, 400, 401}))
                            .toFloatArray();
                    int v = model.vocabSize();
                    int[] rows = {2, 2, 0, 1};
                    for (int r = 0; r < 4; r++) {
                        Fixtures.assertClose(
                                java.util.Arrays.copyOfRange(ref, rows[r] * v, rows[r] * v + v),
                                java.util.Arrays.copyOfRange(got, r * v, r * v + v),
                                1e-5,
                                1e-5,
                                name + " reordered row " + r);
                    }
                    assertEquals(3, mixed.length());
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void paddedBatchGivesEachRowTheSameOutputAsAlone(String name) {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf(name), m)) {
            long[][] in = inputs(model);
            for (GenerationConfig cfg : List.of(
                    configs(model.generationConfig()).get(0),
                    configs(model.generationConfig()).get(2))) {
                Generation.Result batch = Generation.generate(model, in, cfg, m);
                assertEquals(in.length, batch.sequences().length);
                int width = batch.sequences()[0].length;
                assertTrue(width <= cfg.maxLength());
                for (long[] row : batch.sequences()) assertEquals(width, row.length, "rows share one width");
                for (int i = 0; i < in.length; i++) {
                    Generation.Result alone = Generation.generate(model, new long[][] {in[i]}, cfg, m);
                    assertArrayEquals(
                            alone.tokens(0, cfg.eosTokenId()),
                            batch.tokens(i, cfg.eosTokenId()),
                            name + " row " + i + " " + cfg);
                    assertEquals(alone.scores()[0], batch.scores()[i], 1e-5, name + " score row " + i);
                    // after EOS only padding
                    long[] row = batch.sequences()[i];
                    int eos = -1;
                    for (int k = 1; k < row.length; k++)
                        if (row[k] == cfg.eosTokenId()) {
                            eos = k;
                            break;
                        }
                    for (int k = eos + 1; eos > 0 && k < row.length; k++)
                        assertEquals(cfg.padTokenId(), row[k], "padding after EOS");
                }
            }
        }
    }

    @Test
    void processorsBlockRepeatedNgramsAndEarlyEos() {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf("bart"), m)) {
            for (int beams : new int[] {1, 3}) {
                GenerationConfig cfg = model.generationConfig()
                        .withMaxLength(16)
                        .withNumBeams(beams)
                        .withNoRepeatNgramSize(2)
                        .withMinLength(8);
                Generation.Result r = Generation.generate(model, inputs(model), cfg, m);
                for (int i = 0; i < r.sequences().length; i++) {
                    long[] t = r.sequences()[i];
                    Set<String> seen = new HashSet<>();
                    int end = t.length;
                    for (int k = 1; k < t.length; k++)
                        if (t[k] == cfg.eosTokenId()) {
                            end = k;
                            break;
                        }
                    assertTrue(end >= 7, "EOS before min_length in row " + i + ": " + java.util.Arrays.toString(t));
                    for (int k = 0; k + 1 < end; k++)
                        assertTrue(
                                seen.add(t[k] + "," + t[k + 1]), "repeated bigram in " + java.util.Arrays.toString(t));
                }
            }
        }
    }

    @Test
    void ngramBansFollowHfDefinition() {
        long[] seq = {2, 7, 8, 7, 9, 7, 0};
        assertArrayEquals(new long[] {8, 9}, LogitsProcessors.bannedByNgrams(seq, 6, 2)); // after "7": 8 and 9 seen
        // prefix "8 7" never started a trigram
        assertArrayEquals(new long[0], LogitsProcessors.bannedByNgrams(seq, 4, 3));
        // "7 8" -> 7
        assertArrayEquals(new long[] {7}, LogitsProcessors.bannedByNgrams(new long[] {2, 7, 8, 7, 9, 7, 8}, 7, 3));
        List<Long> all = new ArrayList<>();
        for (long v : LogitsProcessors.bannedByNgrams(seq, 3, 1)) all.add(v);
        assertEquals(List.of(2L, 7L, 8L), all);
    }

    @Test
    void topKIsSortedWithLowerIndexFirstOnTies() {
        float[] x = {1f, 5f, 3f, 5f, Float.NEGATIVE_INFINITY, 4f};
        float[] s = new float[3];
        int[] idx = new int[3];
        BeamSearch.topK(x, 0, x.length, 3, s, idx);
        assertArrayEquals(new int[] {1, 3, 5}, idx);
        assertArrayEquals(new float[] {5f, 5f, 4f}, s);
    }
}
