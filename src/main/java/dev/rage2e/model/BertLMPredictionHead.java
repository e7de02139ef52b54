package dev.rage2e.model;

import ai.djl.ndarray.NDArray;

/**
 * HF's {@code BertLMPredictionHead} ({@code cls.predictions}): transform (dense, activation, LayerNorm)
 * then a projection to the vocabulary whose weight is, by default, the word embedding table
 * ({@code tie_word_embeddings}) and whose bias is {@code cls.predictions.bias}.
 */
public final class BertLMPredictionHead {
    final Linear transformDense;
    final LayerNorm transformLayerNorm;
    final String act;
    final NDArray decoderWeight;
    final NDArray bias;

    /**
     * @param prefix e.g. "decoder.cls.predictions"
     * @param tiedWeight the word embeddings [V, H] when tied, else null to load {@code prefix.decoder.weight}
     */
    public BertLMPredictionHead(ParamStore p, String prefix, BertConfig c, NDArray tiedWeight) {
        transformDense = new Linear(p, prefix + ".transform.dense", c.hiddenSize(), c.hiddenSize(), true);
        transformLayerNorm = new LayerNorm(p, prefix + ".transform.LayerNorm", c.hiddenSize(), c.layerNormEps());
        act = c.hiddenAct();
        decoderWeight =
                tiedWeight != null ? tiedWeight : p.get(prefix + ".decoder.weight", c.vocabSize(), c.hiddenSize());
        bias = p.get(prefix + ".bias", c.vocabSize());
    }

    /** Vocabulary logits [..., V] for hidden states [..., H]. */
    public NDArray forward(NDArray hidden) {
        NDArray h = transformLayerNorm.forward(Activations.apply(act, transformDense.forward(hidden)));
        return ai.djl.nn.core.Linear.linear(h, decoderWeight, bias).singletonOrThrow();
    }
}
