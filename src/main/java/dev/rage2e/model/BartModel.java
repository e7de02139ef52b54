package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.List;

/**
 * BART (Lewis et al. 2020) as HF's {@code BartModel} ({@code model.*} inside
 * {@code BartForConditionalGeneration}): a shared token embedding, learned positional embeddings with an
 * offset of 2, {@code layernorm_embedding}, and post-LayerNorm encoder/decoder layers. Field names mirror
 * HF module names so weight loading is a name lookup.
 */
public final class BartModel {
    public final BartConfig config;
    public final Embedding shared;
    public final BartEncoder encoder;
    public final BartDecoder decoder;

    public BartModel(ParamStore p, String prefix, BartConfig c) {
        this.config = c;
        this.shared = new Embedding(p, prefix + "shared.weight", c.vocabSize(), c.dModel());
        this.encoder = new BartEncoder(p, prefix + "encoder", c, shared);
        this.decoder = new BartDecoder(p, prefix + "decoder", c, shared);
    }

    /** {@code BartLearnedPositionalEmbedding}: position p (0-based, padding ignored) reads row p + 2. */
    public static final class BartLearnedPositionalEmbedding {
        final Embedding table;
        final int maxPositions;

        BartLearnedPositionalEmbedding(ParamStore p, String name, BartConfig c) {
            table = new Embedding(p, name, c.maxPositionEmbeddings() + BartConfig.POSITION_OFFSET, c.dModel());
            maxPositions = c.maxPositionEmbeddings();
        }

        /** Embeddings [len, H] of positions {@code past .. past + len - 1}. */
        NDArray forward(NDManager m, long past, long len) {
            if (past + len > maxPositions) {
                throw new IllegalArgumentException(
                        "sequence of " + (past + len) + " tokens exceeds max_position_embeddings " + maxPositions);
            }
            NDArray pos = m.arange(
                    past + BartConfig.POSITION_OFFSET, past + len + BartConfig.POSITION_OFFSET, 1, DataType.INT64);
            return table.forward(pos);
        }
    }

    /**
     * Multi-head attention with HF's q/k/v/out projections; the query is scaled by head_dim^-0.5 before the product.
     */
    public static final class BartAttention {
        final Linear qProj;
        final Linear kProj;
        final Linear vProj;
        final Linear outProj;
        final int heads;
        final float scaling;
        final float dropout;

        BartAttention(ParamStore p, String prefix, BartConfig c, int heads) {
            long d = c.dModel();
            qProj = new Linear(p, prefix + ".q_proj", d, d, true);
            kProj = new Linear(p, prefix + ".k_proj", d, d, true);
            vProj = new Linear(p, prefix + ".v_proj", d, d, true);
            outProj = new Linear(p, prefix + ".out_proj", d, d, true);
            this.heads = heads;
            this.scaling = (float) Math.pow(c.dModel() / heads, -0.5);
            this.dropout = c.attentionDropout();
        }

        /** Keys and values [B, H, L, D] of {@code source}, cacheable across decoding steps. */
        public NDArray[] keysValues(NDArray source) {
            return new NDArray[] {
                Attention.splitHeads(kProj.forward(source), heads), Attention.splitHeads(vProj.forward(source), heads)
            };
        }

        public NDArray forward(NDArray hidden, NDArray[] kv, NDArray mask, boolean training) {
            NDArray q = Attention.splitHeads(Scalars.mul(qProj.forward(hidden), scaling), heads);
            NDArray ctx = Attention.mergeHeads(Attention.attend(q, kv[0], kv[1], mask, dropout, training, 1f));
            return outProj.forward(ctx);
        }
    }

    /**
     * The feed-forward block shared by encoder and decoder layers: fc1, activation, fc2, residual, final_layer_norm.
     */
    static final class BartFeedForward {
        final Linear fc1;
        final Linear fc2;
        final LayerNorm finalLayerNorm;
        final String act;
        final float dropout;
        final float activationDropout;

        BartFeedForward(ParamStore p, String prefix, BartConfig c, int ffnDim) {
            fc1 = new Linear(p, prefix + ".fc1", c.dModel(), ffnDim, true);
            fc2 = new Linear(p, prefix + ".fc2", ffnDim, c.dModel(), true);
            finalLayerNorm = new LayerNorm(p, prefix + ".final_layer_norm", c.dModel(), BartConfig.LAYER_NORM_EPS);
            act = c.activationFunction();
            dropout = c.dropout();
            activationDropout = c.activationDropout();
        }

        NDArray forward(NDArray x, boolean training) {
            NDArray h = Attention.dropout(Activations.apply(act, fc1.forward(x)), activationDropout, training);
            h = Attention.dropout(fc2.forward(h), dropout, training);
            return finalLayerNorm.forward(h.add(x));
        }
    }

    public static final class BartEncoderLayer {
        public final BartAttention selfAttn;
        final LayerNorm selfAttnLayerNorm;
        final BartFeedForward ffn;
        final float dropout;

        BartEncoderLayer(ParamStore p, String prefix, BartConfig c) {
            selfAttn = new BartAttention(p, prefix + ".self_attn", c, c.encoderAttentionHeads());
            selfAttnLayerNorm =
                    new LayerNorm(p, prefix + ".self_attn_layer_norm", c.dModel(), BartConfig.LAYER_NORM_EPS);
            ffn = new BartFeedForward(p, prefix, c, c.encoderFfnDim());
            dropout = c.dropout();
        }

        NDArray forward(NDArray hidden, NDArray mask, boolean training) {
            NDArray h = Attention.dropout(
                    selfAttn.forward(hidden, selfAttn.keysValues(hidden), mask, training), dropout, training);
            h = selfAttnLayerNorm.forward(h.add(hidden));
            return ffn.forward(h, training);
        }
    }

    public static final class BartDecoderLayer {
        public final BartAttention selfAttn;
        final LayerNorm selfAttnLayerNorm;
        public final BartAttention encoderAttn;
        final LayerNorm encoderAttnLayerNorm;
        final BartFeedForward ffn;
        final float dropout;

        BartDecoderLayer(ParamStore p, String prefix, BartConfig c) {
            selfAttn = new BartAttention(p, prefix + ".self_attn", c, c.decoderAttentionHeads());
            selfAttnLayerNorm =
                    new LayerNorm(p, prefix + ".self_attn_layer_norm", c.dModel(), BartConfig.LAYER_NORM_EPS);
            encoderAttn = new BartAttention(p, prefix + ".encoder_attn", c, c.decoderAttentionHeads());
            encoderAttnLayerNorm =
                    new LayerNorm(p, prefix + ".encoder_attn_layer_norm", c.dModel(), BartConfig.LAYER_NORM_EPS);
            ffn = new BartFeedForward(p, prefix, c, c.decoderFfnDim());
            dropout = c.dropout();
        }

        /**
         * {@code selfKv}: keys/values of the whole prefix (this step's
         * included); {@code crossKv}: of the encoder output.
         */
        NDArray forward(
                NDArray hidden,
                NDArray[] selfKv,
                NDArray selfMask,
                NDArray[] crossKv,
                NDArray crossMask,
                boolean training) {
            NDArray h = Attention.dropout(selfAttn.forward(hidden, selfKv, selfMask, training), dropout, training);
            h = selfAttnLayerNorm.forward(h.add(hidden));
            NDArray c = Attention.dropout(encoderAttn.forward(h, crossKv, crossMask, training), dropout, training);
            h = encoderAttnLayerNorm.forward(c.add(h));
            return ffn.forward(h, training);
        }
    }

    /** Token embedding x embed_scale + positions, then layernorm_embedding and dropout. */
    static NDArray embed(
            Embedding tokens,
            BartLearnedPositionalEmbedding positions,
            LayerNorm layernormEmbedding,
            BartConfig c,
            NDArray ids,
            long past,
            boolean training) {
        NDArray x = tokens.forward(ids);
        if (c.scaleEmbedding()) x = Scalars.mul(x, c.embedScale());
        x = x.add(positions.forward(ids.getManager(), past, ids.getShape().get(1)));
        return Attention.dropout(layernormEmbedding.forward(x), c.dropout(), training);
    }

    public static final class BartEncoder {
        final BartConfig config;
        final Embedding embedTokens;
        final BartLearnedPositionalEmbedding embedPositions;
        final LayerNorm layernormEmbedding;
        public final List<BartEncoderLayer> layers = new ArrayList<>();

        BartEncoder(ParamStore p, String prefix, BartConfig c, Embedding shared) {
            config = c;
            embedTokens = shared;
            embedPositions = new BartLearnedPositionalEmbedding(p, prefix + ".embed_positions.weight", c);
            layernormEmbedding =
                    new LayerNorm(p, prefix + ".layernorm_embedding", c.dModel(), BartConfig.LAYER_NORM_EPS);
            for (int i = 0; i < c.encoderLayers(); i++) layers.add(new BartEncoderLayer(p, prefix + ".layers." + i, c));
        }

        /** last_hidden_state [B, S, H] for ids [B, S] and padding mask [B, S] (null: no padding). */
        public NDArray forward(NDArray inputIds, NDArray attentionMask, boolean training) {
            NDArray x = embed(embedTokens, embedPositions, layernormEmbedding, config, inputIds, 0, training);
            NDArray mask = attentionMask == null ? null : Attention.paddingMask(attentionMask);
            for (BartEncoderLayer l : layers) x = l.forward(x, mask, training);
            return x;
        }
    }

    public static final class BartDecoder {
        final BartConfig config;
        final Embedding embedTokens;
        final BartLearnedPositionalEmbedding embedPositions;
        final LayerNorm layernormEmbedding;
        public final List<BartDecoderLayer> layers = new ArrayList<>();

        BartDecoder(ParamStore p, String prefix, BartConfig c, Embedding shared) {
            config = c;
            embedTokens = shared;
            embedPositions = new BartLearnedPositionalEmbedding(p, prefix + ".embed_positions.weight", c);
            layernormEmbedding =
                    new LayerNorm(p, prefix + ".layernorm_embedding", c.dModel(), BartConfig.LAYER_NORM_EPS);
            for (int i = 0; i < c.decoderLayers(); i++) layers.add(new BartDecoderLayer(p, prefix + ".layers." + i, c));
        }

        /**
         * Teacher-forced decoder: causal self-attention (plus {@code decoderMask} [B, T] padding when given),
         * cross-attention to {@code encoderHidden} under {@code encoderMask}. Returns [B, T, H].
         */
        public NDArray forward(
                NDArray ids, NDArray decoderMask, NDArray encoderHidden, NDArray encoderMask, boolean training) {
            NDArray x = embed(embedTokens, embedPositions, layernormEmbedding, config, ids, 0, training);
            NDArray selfMask =
                    Attention.causalMask(ids.getManager(), ids.getShape().get(1));
            if (decoderMask != null)
                selfMask = Attention.paddingMask(decoderMask).add(selfMask).maximum(Attention.MASK_VALUE);
            NDArray crossMask = encoderMask == null ? null : Attention.paddingMask(encoderMask);
            for (BartDecoderLayer l : layers) {
                x = l.forward(
                        x,
                        l.selfAttn.keysValues(x),
                        selfMask,
                        l.encoderAttn.keysValues(encoderHidden),
                        crossMask,
                        training);
            }
            return x;
        }

        public NDArray[][] crossKeysValues(NDArray encoderHidden) {
            NDArray[][] kv = new NDArray[layers.size()][];
            for (int i = 0; i < kv.length; i++)
                kv[i] = layers.get(i).encoderAttn.keysValues(encoderHidden);
            return kv;
        }

        /** One incremental step: ids [B, n] at positions {@code cache.length()}..; see {@link BertModel#step}. */
        public NDArray step(NDArray ids, KvCache cache) {
            long n = ids.getShape().get(1);
            NDArray x = embed(embedTokens, embedPositions, layernormEmbedding, config, ids, cache.length(), false);
            NDArray mask = n > 1 ? BertModel.stepCausalMask(ids.getManager(), cache.length(), n) : null;
            for (int i = 0; i < layers.size(); i++) {
                BartDecoderLayer l = layers.get(i);
                NDArray[] kvNew = l.selfAttn.keysValues(x);
                x = l.forward(x, cache.append(i, kvNew[0], kvNew[1]), mask, cache.cross(i), cache.crossMask(), false);
            }
            cache.advance(n);
            return x;
        }
    }
}
