package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.weights.HostTensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Copy mechanism (pointer-generator, See et al. 2017) on top of any generator that exposes its decoder
 * hidden states. For decoder state h_t and encoder outputs e_s of source tokens x_s:
 *
 * <pre>
 *   a_t   = softmax_s((W_q h_t) · e_s / sqrt(H_enc))           copy attention over the source
 *   c_t   = sum_s a_ts e_s
 *   p_gen = sigmoid(w_g · [h_t ; c_t] + b_g)
 *   p(w)  = p_gen · softmax(lm_logits_t)_w + (1 - p_gen) · sum_{s : x_s = w} a_ts
 * </pre>
 *
 * Outputs are log p(w) where a plain generator returns logits. A log-softmax of them is the identity,
 * so RAG's marginalisation over passages (token and sequence), its loss and beam search use them
 * unchanged and stay exact. Answers to extractive questions are spans of the passage, which this
 * makes a one-step decision per token instead of something the vocabulary head must learn.
 *
 * <p>Parameters {@code copy.query.weight} [H_enc, H_dec], {@code copy.gate.weight} [1, H_dec + H_enc],
 * {@code copy.gate.bias} [1] are stored in model.safetensors beside the base model's; config.json marks
 * the model with {@code "copy_mechanism": true}. HF's classes ignore both, so the base model still loads
 * in Python (without the copy head).
 */
public final class PointerGenerator implements Seq2SeqModel {
    public static final String CONFIG_FLAG = "copy_mechanism";
    static final String QUERY = "copy.query";
    static final String GATE = "copy.gate";
    /** Floor of p(w) before the log: keeps log finite (and its gradient bounded) for words neither head gives mass. */
    private static final float MIN_PROB = 1e-12f;

    private final Seq2SeqModel base;
    private final DecoderHiddenStates hidden;
    private final Linear query;
    private final Linear gate;
    private final float attentionScale;

    public PointerGenerator(Seq2SeqModel base) {
        if (!(base instanceof DecoderHiddenStates h)) {
            throw new IllegalArgumentException(
                    base.getClass().getSimpleName() + " does not expose decoder hidden states");
        }
        this.base = base;
        this.hidden = h;
        int hd = h.decoderHiddenSize(), he = h.encoderHiddenSize();
        this.query = new Linear(base.params(), QUERY, hd, he, false);
        this.gate = new Linear(base.params(), GATE, hd + he, 1, true);
        this.attentionScale = (float) (1 / Math.sqrt(he));
    }

    /** Whether a generator's config.json asks for the copy head. */
    public static boolean requested(JsonNode config) {
        return config.path(CONFIG_FLAG).asBoolean(false);
    }

    /** Marks a generator config.json as having the copy head. */
    public static void mark(ObjectNode config) {
        config.put(CONFIG_FLAG, true);
    }

    /**
     * Initial copy-head tensors: the query projection N(0, std) (so the first copy attention is close to
     * uniform), the gate zero (p_gen = 1/2: both heads start with equal say).
     */
    public static Map<String, HostTensor> initialTensors(int decoderHidden, int encoderHidden, float std, long seed) {
        Random r = new Random(seed);
        float[] q = new float[decoderHidden * encoderHidden];
        for (int i = 0; i < q.length; i++) q[i] = (float) (r.nextGaussian() * std);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        t.put(QUERY + ".weight", HostTensor.ofFloats(q, encoderHidden, decoderHidden));
        t.put(
                GATE + ".weight",
                HostTensor.ofFloats(new float[decoderHidden + encoderHidden], 1, decoderHidden + encoderHidden));
        t.put(GATE + ".bias", HostTensor.ofFloats(new float[1], 1));
        return t;
    }

    public Seq2SeqModel base() {
        return base;
    }

    @Override
    public boolean needsSourceIds() {
        return true;
    }

    @Override
    public NDArray encode(NDArray inputIds, NDArray attentionMask, boolean training) {
        return base.encode(inputIds, attentionMask, training);
    }

    @Override
    public NDArray decode(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        throw new IllegalStateException(
                "a copy-mechanism generator needs the source token ids: call decode(..., sourceIds, training)");
    }

    @Override
    public NDArray decode(
            NDArray decoderInputIds,
            NDArray decoderMask,
            NDArray encoderHidden,
            NDArray encoderMask,
            NDArray sourceIds,
            boolean training) {
        NDArray h = hidden.decodeHidden(decoderInputIds, decoderMask, encoderHidden, encoderMask, training);
        SourceVocab v = SourceVocab.of(sourceIds, vocabSize());
        return mix(h, encoderHidden, encoderMask, v.oneHot, v.position);
    }

    @Override
    public DecoderState startDecoding(NDArray encoderHidden, NDArray encoderMask) {
        throw new IllegalStateException("a copy-mechanism generator needs the source token ids: call "
                + "startDecoding(hidden, mask, sourceIds)");
    }

    @Override
    public DecoderState startDecoding(NDArray encoderHidden, NDArray encoderMask, NDArray sourceIds) {
        return new CopyState(
                base.startDecoding(encoderHidden, encoderMask),
                encoderHidden,
                encoderMask,
                SourceVocab.of(sourceIds, vocabSize()),
                null);
    }

    @Override
    public NDArray step(DecoderState state, NDArray tokens) {
        CopyState s = (CopyState) state;
        NDArray h = hidden.stepHidden(s.base, tokens); // [R, 1, H]
        return mix(
                        h,
                        s.rows(s.encoderHidden),
                        s.encoderMask == null ? null : s.rows(s.encoderMask),
                        s.rows(s.vocab.oneHot),
                        s.vocab.position)
                .squeeze(1);
    }

    /** log p(w) [R, T, V] from decoder states h [R, T, Hd] over encoder outputs [R, S, He]. */
    private NDArray mix(NDArray h, NDArray enc, NDArray encMask, NDArray sourceOneHot, NDArray position) {
        NDArray scores = Scalars.mul(query.forward(h).matMul(enc.transpose(0, 2, 1)), attentionScale); // [R, T, S]
        if (encMask != null) {
            // the mask never requires grad, so plain scalar ops on it are safe (see Scalars)
            NDArray blocked = encMask.eq(0).toType(DataType.FLOAT32, false).mul(-1e9f);
            scores = scores.add(blocked.expandDims(1));
        }
        NDArray attention = scores.softmax(-1);
        NDArray context = attention.matMul(enc); // [R, T, He]
        NDArray g = gate.forward(h.concat(context, -1)); // [R, T, 1]
        // attention summed per distinct source token, then spread over the vocabulary by a gather
        NDArray copy = attention.matMul(sourceOneHot).get(new NDIndex(":, :, {}", position)); // [R, T, V]
        NDArray p =
                hidden.lmLogits(h).softmax(-1).mul(Activation.sigmoid(g)).add(copy.mul(Activation.sigmoid(g.neg())));
        return p.clip(MIN_PROB, 1f).log();
    }

    /**
     * The distinct token ids of a batch of sources: {@code oneHot} [R, S, U+1] marks the column of each source
     * position among the U distinct ids; {@code position} [V] maps every vocabulary id to its column, or to
     * the always-zero column U when it occurs in no source. attention · oneHot sums attention per distinct
     * token (duplicates add up); gathering by position spreads it over the vocabulary without a [R, S, V] tensor.
     */
    record SourceVocab(NDArray oneHot, NDArray position) {
        static SourceVocab of(NDArray sourceIds, int vocab) {
            long[] ids = sourceIds.toType(DataType.INT64, false).toLongArray();
            int[] column = new int[vocab];
            Arrays.fill(column, -1);
            long[] local = new long[ids.length];
            int distinct = 0;
            for (int i = 0; i < ids.length; i++) {
                long id = ids[i];
                if (id < 0 || id >= vocab)
                    throw new IllegalArgumentException("source token id " + id + " outside the vocabulary of " + vocab);
                if (column[(int) id] < 0) column[(int) id] = distinct++;
                local[i] = column[(int) id];
            }
            long[] position = new long[vocab];
            for (int w = 0; w < vocab; w++) position[w] = column[w] < 0 ? distinct : column[w];
            NDManager m = sourceIds.getManager();
            NDArray oneHot = m.create(local, sourceIds.getShape()).oneHot(distinct + 1, DataType.FLOAT32);
            return new SourceVocab(oneHot, m.create(position, new Shape(vocab)));
        }
    }

    /**
     * The base model's cache plus the source side of the copy head, which stays at the rows decoding started
     * on; beam-search reorders only compose a row map (held on the Java heap: the caller's index arrays
     * may be freed right after the reorder).
     */
    private static final class CopyState implements DecoderState {
        final DecoderState base;
        final NDArray encoderHidden;
        final NDArray encoderMask;
        final SourceVocab vocab;
        final long[] rowIndex; // source row of each of this state's rows; null = identity

        CopyState(DecoderState base, NDArray encoderHidden, NDArray encoderMask, SourceVocab vocab, long[] rowIndex) {
            this.base = base;
            this.encoderHidden = encoderHidden;
            this.encoderMask = encoderMask;
            this.vocab = vocab;
            this.rowIndex = rowIndex;
        }

        NDArray rows(NDArray a) {
            return rowIndex == null ? a : a.get(new NDIndex("{}", a.getManager().create(rowIndex)));
        }

        @Override
        public DecoderState reorder(NDArray rows) {
            long[] r = rows.toType(DataType.INT64, false).toLongArray();
            long[] composed = new long[r.length];
            for (int i = 0; i < r.length; i++) composed[i] = rowIndex == null ? r[i] : rowIndex[(int) r[i]];
            return new CopyState(base.reorder(rows), encoderHidden, encoderMask, vocab, composed);
        }

        @Override
        public long length() {
            return base.length();
        }

        @Override
        public void close() {
            base.close();
        }
    }

    @Override
    public int vocabSize() {
        return base.vocabSize();
    }

    @Override
    public long padTokenId() {
        return base.padTokenId();
    }

    @Override
    public long bosTokenId() {
        return base.bosTokenId();
    }

    @Override
    public long eosTokenId() {
        return base.eosTokenId();
    }

    @Override
    public long decoderStartTokenId() {
        return base.decoderStartTokenId();
    }

    @Override
    public TextTokenizer tokenizer() {
        return base.tokenizer();
    }

    @Override
    public ParamStore params() {
        return base.params();
    }

    @Override
    public GenerationConfig generationConfig() {
        return base.generationConfig();
    }

    /**
     * Saves the base model: its parameter store holds the copy head, and its config.json is the one this
     * model was loaded (or created) from, which carries the flag.
     */
    @Override
    public void save(Path dir) throws IOException {
        base.save(dir);
    }

    @Override
    public void close() {
        base.close();
    }
}
