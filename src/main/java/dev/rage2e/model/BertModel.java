package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;

/**
 * BERT (Devlin et al. 2019) as Hugging Face's {@code BertModel}: embeddings (word + absolute position +
 * token type, LayerNorm, dropout), post-LayerNorm transformer layers with exact GELU, optional
 * tanh pooler. Field names mirror HF module names so weight loading is a name lookup. With
 * {@code config.isDecoder()} the self-attention is causal and layers carry cross-attention
 * (HF's {@code BertLMHeadModel} body inside {@code EncoderDecoderModel}).
 */
public final class BertModel {
    public final BertConfig config;
    public final BertEmbeddings embeddings;
    public final BertEncoder encoder;
    public final BertPooler pooler; // null when the checkpoint has none (e.g. DPR, e5)

    /**
     * @param prefix name prefix inside the store, e.g. "" for a bare BertModel, "bert." for
     *     BertForPreTraining, "encoder." inside an EncoderDecoderModel.
     */
    public BertModel(ParamStore p, String prefix, BertConfig config, boolean withPooler) {
        this.config = config;
        this.embeddings = new BertEmbeddings(p, prefix + "embeddings", config);
        this.encoder = new BertEncoder(p, prefix + "encoder", config);
        this.pooler = withPooler ? new BertPooler(p, prefix + "pooler", config) : null;
    }

    public record Output(NDArray lastHiddenState, NDArray poolerOutput) {}

    /**
     * @param inputIds [B, L] int64
     * @param attentionMask [B, L] 1 = token, 0 = padding (null: all tokens)
     * @param tokenTypeIds [B, L] or null for all zeros
     */
    public Output forward(NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds, boolean training) {
        return forward(inputIds, attentionMask, tokenTypeIds, null, null, training);
    }

    /**
     * As above; in a decoder ({@code config.isDecoder()}) self-attention is causal and, when
     * {@code encoderHidden} [B, S, H] is given, every layer cross-attends to it under
     * {@code encoderMask} [B, S] (1 keep, 0 pad; null = keep all), as HF's {@code BertLMHeadModel} body.
     */
    public Output forward(
            NDArray inputIds,
            NDArray attentionMask,
            NDArray tokenTypeIds,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training) {
        return forward(inputIds, attentionMask, tokenTypeIds, encoderHidden, encoderMask, training, true);
    }

    /** As above; {@code withPooler} false skips the pooler (null pooler output) when nothing reads it. */
    public Output forward(
            NDArray inputIds,
            NDArray attentionMask,
            NDArray tokenTypeIds,
            NDArray encoderHidden,
            NDArray encoderMask,
            boolean training,
            boolean withPooler) {
        NDArray hidden = embeddings.forward(inputIds, tokenTypeIds, 0, training);
        NDArray mask = attentionMask == null ? null : Attention.paddingMask(attentionMask);
        if (config.isDecoder()) {
            NDArray causal = Attention.causalMask(
                    inputIds.getManager(), inputIds.getShape().get(1));
            mask = mask == null ? causal : mask.add(causal).maximum(Attention.MASK_VALUE);
        }
        NDArray crossMask = encoderHidden != null && encoderMask != null ? Attention.paddingMask(encoderMask) : null;
        NDArray last = encoder.forward(hidden, mask, encoderHidden, crossMask, training);
        return new Output(last, pooler == null || !withPooler ? null : pooler.forward(last));
    }

    /** Cross-attention keys/values of every layer for an encoder output, computed once per generation. */
    public NDArray[][] crossKeysValues(NDArray encoderHidden) {
        NDArray[][] kv = new NDArray[encoder.layer.size()][];
        for (int i = 0; i < kv.length; i++) {
            BertLayer l = encoder.layer.get(i);
            if (l.crossattention == null) throw new IllegalStateException("layer " + i + " has no cross-attention");
            kv[i] = l.crossattention.self.keysValues(encoderHidden);
        }
        return kv;
    }

    /**
     * One incremental decoding step of a decoder: {@code inputIds} [B, n] at positions
     * {@code cache.length()}.. ; each layer's self-attention keys/values are appended to the cache, so the
     * new positions attend to every earlier one (no causal mask is needed for n = 1). Returns the last
     * hidden states [B, n, H]. Inference only (dropout off).
     */
    public NDArray step(NDArray inputIds, KvCache cache) {
        long n = inputIds.getShape().get(1);
        NDArray x = embeddings.forward(inputIds, null, cache.length(), false);
        NDArray mask = n > 1 ? stepCausalMask(inputIds.getManager(), cache.length(), n) : null;
        for (int i = 0; i < encoder.layer.size(); i++) {
            BertLayer l = encoder.layer.get(i);
            NDArray[] kvNew = l.attention.self.keysValues(x);
            NDArray[] kv = cache.append(i, kvNew[0], kvNew[1]);
            x = l.forward(x, kv, mask, cache.cross(i), cache.crossMask(), false);
        }
        cache.advance(n);
        return x;
    }

    /** Causal mask [1, 1, n, past + n] for n new positions after {@code past} cached ones. */
    static NDArray stepCausalMask(NDManager m, long past, long n) {
        NDArray q = m.arange(past, past + n, 1, DataType.INT64).expandDims(1);
        NDArray k = m.arange(0, past + n, 1, DataType.INT64).expandDims(0);
        return k.gt(q)
                .toType(DataType.FLOAT32, false)
                .mul(Attention.MASK_VALUE)
                .expandDims(0)
                .expandDims(0);
    }

    /** The input embedding table, shared with a tied LM head. */
    public NDArray wordEmbeddings() {
        return embeddings.wordEmbeddings.weight;
    }

    public static final class BertEmbeddings {
        final Embedding wordEmbeddings;
        final Embedding positionEmbeddings;
        final Embedding tokenTypeEmbeddings;
        final LayerNorm layerNorm;
        final float dropout;

        BertEmbeddings(ParamStore p, String prefix, BertConfig c) {
            wordEmbeddings = new Embedding(p, prefix + ".word_embeddings.weight", c.vocabSize(), c.hiddenSize());
            positionEmbeddings =
                    new Embedding(p, prefix + ".position_embeddings.weight", c.maxPositionEmbeddings(), c.hiddenSize());
            tokenTypeEmbeddings = c.typeVocabSize() > 0
                    ? new Embedding(p, prefix + ".token_type_embeddings.weight", c.typeVocabSize(), c.hiddenSize())
                    : null;
            layerNorm = new LayerNorm(p, prefix + ".LayerNorm", c.hiddenSize(), c.layerNormEps());
            dropout = c.hiddenDropoutProb();
        }

        /** {@code pastLength} offsets positions when decoding with a cache. */
        public NDArray forward(NDArray inputIds, NDArray tokenTypeIds, long pastLength, boolean training) {
            NDManager m = inputIds.getManager();
            long len = inputIds.getShape().get(1);
            if (pastLength + len > positionEmbeddings.weight.getShape().get(0)) {
                throw new IllegalArgumentException("sequence of " + (pastLength + len) + " tokens exceeds "
                        + "max_position_embeddings "
                        + positionEmbeddings.weight.getShape().get(0));
            }
            NDArray x = wordEmbeddings.forward(inputIds);
            NDArray positions = m.arange(pastLength, pastLength + len, 1, DataType.INT64);
            x = x.add(positionEmbeddings.forward(positions));
            if (tokenTypeEmbeddings != null) {
                NDArray types = tokenTypeIds != null ? tokenTypeIds : m.zeros(inputIds.getShape(), DataType.INT64);
                x = x.add(tokenTypeEmbeddings.forward(types));
            }
            return Attention.dropout(layerNorm.forward(x), dropout, training);
        }
    }

    /** Multi-head attention projections; keys/values come from {@code kvSource} for cross-attention. */
    public static final class BertSelfAttention {
        final Linear query;
        final Linear key;
        final Linear value;
        final int heads;
        final float dropout;

        BertSelfAttention(ParamStore p, String prefix, BertConfig c) {
            query = new Linear(p, prefix + ".query", c.hiddenSize(), c.hiddenSize(), true);
            key = new Linear(p, prefix + ".key", c.hiddenSize(), c.hiddenSize(), true);
            value = new Linear(p, prefix + ".value", c.hiddenSize(), c.hiddenSize(), true);
            heads = c.numAttentionHeads();
            dropout = c.attentionProbsDropoutProb();
        }

        /** Keys and values [B,H,L,D] for {@code source}, cacheable across decoding steps. */
        public NDArray[] keysValues(NDArray source) {
            return new NDArray[] {
                Attention.splitHeads(key.forward(source), heads), Attention.splitHeads(value.forward(source), heads)
            };
        }

        public NDArray forward(NDArray hidden, NDArray[] kv, NDArray mask, boolean training) {
            NDArray q = Attention.splitHeads(query.forward(hidden), heads);
            return Attention.mergeHeads(Attention.attend(q, kv[0], kv[1], mask, dropout, training));
        }
    }

    /** Output projection, dropout, residual, LayerNorm (post-LN), shared by attention and FFN blocks. */
    public static final class BertSelfOutput {
        final Linear dense;
        final LayerNorm layerNorm;
        final float dropout;

        BertSelfOutput(ParamStore p, String prefix, BertConfig c, long in) {
            dense = new Linear(p, prefix + ".dense", in, c.hiddenSize(), true);
            layerNorm = new LayerNorm(p, prefix + ".LayerNorm", c.hiddenSize(), c.layerNormEps());
            dropout = c.hiddenDropoutProb();
        }

        public NDArray forward(NDArray x, NDArray residual, boolean training) {
            return layerNorm.forward(
                    Attention.dropout(dense.forward(x), dropout, training).add(residual));
        }
    }

    public static final class BertAttention {
        public final BertSelfAttention self;
        public final BertSelfOutput output;

        BertAttention(ParamStore p, String prefix, BertConfig c) {
            self = new BertSelfAttention(p, prefix + ".self", c);
            output = new BertSelfOutput(p, prefix + ".output", c, c.hiddenSize());
        }

        public NDArray forward(NDArray hidden, NDArray[] kv, NDArray mask, boolean training) {
            return output.forward(self.forward(hidden, kv, mask, training), hidden, training);
        }
    }

    public static final class BertLayer {
        public final BertAttention attention;
        public final BertAttention crossattention; // decoder only
        final Linear intermediate;
        final BertSelfOutput output;
        final String act;

        BertLayer(ParamStore p, String prefix, BertConfig c) {
            attention = new BertAttention(p, prefix + ".attention", c);
            crossattention = c.addCrossAttention() ? new BertAttention(p, prefix + ".crossattention", c) : null;
            intermediate = new Linear(p, prefix + ".intermediate.dense", c.hiddenSize(), c.intermediateSize(), true);
            output = new BertSelfOutput(p, prefix + ".output", c, c.intermediateSize());
            act = c.hiddenAct();
        }

        /**
         * @param selfKv keys/values for self-attention (null: computed from {@code hidden})
         * @param crossKv keys/values of the encoder output for cross-attention (decoder only)
         */
        public NDArray forward(
                NDArray hidden,
                NDArray[] selfKv,
                NDArray selfMask,
                NDArray[] crossKv,
                NDArray crossMask,
                boolean training) {
            NDArray[] kv = selfKv != null ? selfKv : attention.self.keysValues(hidden);
            NDArray x = attention.forward(hidden, kv, selfMask, training);
            if (crossattention != null && crossKv != null) {
                x = crossattention.forward(x, crossKv, crossMask, training);
            }
            NDArray h = Activations.apply(act, intermediate.forward(x));
            return output.forward(h, x, training);
        }
    }

    public static final class BertEncoder {
        public final List<BertLayer> layer = new ArrayList<>();

        BertEncoder(ParamStore p, String prefix, BertConfig c) {
            for (int i = 0; i < c.numHiddenLayers(); i++) {
                layer.add(new BertLayer(p, prefix + ".layer." + i, c));
            }
        }

        /** Runs every layer; {@code encoderHidden}/{@code crossMask} feed cross-attention in a decoder. */
        public NDArray forward(
                NDArray hidden, NDArray mask, NDArray encoderHidden, NDArray crossMask, boolean training) {
            NDArray x = hidden;
            for (BertLayer l : layer) {
                NDArray[] crossKv = encoderHidden != null && l.crossattention != null
                        ? l.crossattention.self.keysValues(encoderHidden)
                        : null;
                x = l.forward(x, null, mask, crossKv, crossMask, training);
            }
            return x;
        }
    }

    public static final class BertPooler {
        final Linear dense;

        BertPooler(ParamStore p, String prefix, BertConfig c) {
            dense = new Linear(p, prefix + ".dense", c.hiddenSize(), c.hiddenSize(), true);
        }

        /** tanh(W h_[CLS] + b). */
        public NDArray forward(NDArray lastHidden) {
            NDArray cls = lastHidden.get(":, 0, :");
            return dense.forward(cls).tanh();
        }
    }
}
