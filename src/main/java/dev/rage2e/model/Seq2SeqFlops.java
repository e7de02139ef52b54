package dev.rage2e.model;

/**
 * Matrix-multiply FLOP counts (2 per multiply-add) of an encoder-decoder, for reporting achieved
 * GFLOP/s against the machine's matmul rate. Elementwise work (softmax, LayerNorm, GELU) is not counted.
 *
 * @param lmTransform whether the LM head has a hidden x hidden transform (BERT's) before the projection
 */
public record Seq2SeqFlops(
        int encoderLayers,
        int decoderLayers,
        long hidden,
        long encoderFfn,
        long decoderFfn,
        long vocab,
        boolean lmTransform) {

    public static Seq2SeqFlops of(Seq2SeqModel m) {
        if (m instanceof PointerGenerator p) return of(p.base()); // the copy head adds O(S·H) per token: not counted
        if (m instanceof EncoderDecoderModel e) {
            BertConfig enc = e.config.encoder(), dec = e.config.decoder();
            return new Seq2SeqFlops(
                    enc.numHiddenLayers(),
                    dec.numHiddenLayers(),
                    enc.hiddenSize(),
                    enc.intermediateSize(),
                    dec.intermediateSize(),
                    dec.vocabSize(),
                    true);
        }
        if (m instanceof BartForConditionalGeneration b) {
            BartConfig c = b.config;
            return new Seq2SeqFlops(
                    c.encoderLayers(),
                    c.decoderLayers(),
                    c.dModel(),
                    c.encoderFfnDim(),
                    c.decoderFfnDim(),
                    c.vocabSize(),
                    false);
        }
        throw new IllegalArgumentException("unknown model " + m.getClass());
    }

    /** Encoding one sequence of {@code s} tokens. */
    public double encode(long s) {
        double perToken = 2.0 * (4 * hidden * hidden + 2 * hidden * encoderFfn);
        double attention = 2.0 * 2 * s * s * hidden; // q k^T and p v
        return encoderLayers * (s * perToken + attention);
    }

    /** Cross-attention keys/values of an encoder output of {@code s} tokens (once per generated sequence). */
    public double crossKeysValues(long s) {
        return decoderLayers * 2.0 * 2 * hidden * hidden * s;
    }

    /**
     * One cached decoding step at position {@code t} (t earlier tokens)
     * over {@code s} encoder tokens, LM head included.
     */
    public double step(long t, long s) {
        double proj = 2.0 * (6 * hidden * hidden + 2 * hidden * decoderFfn); // self q,k,v,o + cross q,o + FFN
        double attention = 2.0 * 2 * hidden * ((t + 1) + s);
        return decoderLayers * (proj + attention) + lmHead();
    }

    public double lmHead() {
        return 2.0 * hidden * vocab + (lmTransform ? 2.0 * hidden * hidden : 0);
    }

    /** Teacher-forced forward of {@code t} target tokens over {@code s} encoder tokens (encoder included). */
    public double forward(long s, long t) {
        double dec = decoderLayers
                * (t * 2.0 * (6 * hidden * hidden + 2 * hidden * decoderFfn) + 2.0 * 2 * hidden * (t * t + t * s));
        return encode(s) + crossKeysValues(s) + dec + t * lmHead();
    }

    /** Forward + backward (backward ~ 2x forward: gradients for activations and for weights). */
    public double trainStep(long s, long t) {
        return 3 * forward(s, t);
    }
}
