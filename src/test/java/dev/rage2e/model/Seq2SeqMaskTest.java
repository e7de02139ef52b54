package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rage2e.testutil.Fixtures;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Shapes and padding masks under mixed source and target lengths: padding never changes a real position. */
class Seq2SeqMaskTest {
    @ParameterizedTest
    @ValueSource(strings = {"bart", "bert2bert"})
    void paddedBatchEqualsRowsAlone(String name) {
        try (NDManager m = NDManager.newBaseManager();
                Seq2SeqModel model = Seq2SeqModels.load(Fixtures.hf(name), m)) {
            long st = model.decoderStartTokenId(), eos = model.eosTokenId();
            long[][] src = {{st, 501, 502, 503, 504, 505, eos}, {st, 601, eos}, {st, 701, 702, 703, eos}};
            long[][] tgt = {{st, 11, 12, 13, 14}, {st, 21}, {st, 31, 32}}; // decoder inputs
            long[][] lab = {{11, 12, 13, 14, eos}, {21, eos}, {31, 32, eos}}; // what each position predicts
            TextTokenizer.Batch s = TextTokenizer.pad(m, src, model.padTokenId());
            TextTokenizer.Batch t = TextTokenizer.pad(m, tgt, model.padTokenId());
            long[] labels = new long[3 * 5];
            Arrays.fill(labels, Seq2SeqLoss.IGNORE_INDEX);
            for (int i = 0; i < 3; i++) System.arraycopy(lab[i], 0, labels, i * 5, lab[i].length);
            NDArray enc = model.encode(s.ids(), s.mask(), false);
            int h = (int) enc.getShape().get(2), v = model.vocabSize();
            assertEquals(new Shape(3, 7, h), enc.getShape());
            NDArray logits = model.decode(t.ids(), t.mask(), enc, s.mask(), false);
            assertEquals(new Shape(3, 5, v), logits.getShape());
            float loss = Seq2SeqLoss.crossEntropy(logits, m.create(labels, new Shape(3, 5)), 0f)
                    .getFloat();
            float[] encAll = enc.toFloatArray(), logAll = logits.toFloatArray();
            double tokenLossSum = 0;
            int tokens = 0;
            for (int i = 0; i < 3; i++) {
                NDArray ids = m.create(src[i], new Shape(1, src[i].length));
                NDArray mask = m.ones(ids.getShape(), DataType.INT64);
                NDArray e = model.encode(ids, mask, false);
                Fixtures.assertClose(
                        e.toFloatArray(),
                        Arrays.copyOfRange(encAll, i * 7 * h, i * 7 * h + src[i].length * h),
                        1e-5,
                        1e-5,
                        name + " encoder row " + i);
                NDArray l = model.decode(m.create(tgt[i], new Shape(1, tgt[i].length)), e, mask, false);
                Fixtures.assertClose(
                        l.toFloatArray(),
                        Arrays.copyOfRange(logAll, i * 5 * v, i * 5 * v + tgt[i].length * v),
                        1e-5,
                        1e-5,
                        name + " decoder row " + i);
                NDArray li = m.create(lab[i], new Shape(1, lab[i].length));
                tokenLossSum += Seq2SeqLoss.crossEntropy(l, li, 0f).getFloat() * lab[i].length;
                tokens += lab[i].length;
            }
            assertEquals(tokenLossSum / tokens, loss, 1e-5, name + " loss = mean over real label tokens");
        }
    }
}
