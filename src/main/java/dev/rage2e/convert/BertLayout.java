package dev.rage2e.convert;

import dev.rage2e.model.BertConfig;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.DType;
import dev.rage2e.weights.HostTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The tensor names and shapes of Hugging Face's {@code BertModel}, used by importers to derive a
 * config from converted weights and to prove that nothing is missing or mis-shaped before writing.
 */
public final class BertLayout {
    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

    private BertLayout() {}

    /** Every tensor {@link dev.rage2e.model.BertModel} reads, with the shape the config implies. */
    public static Map<String, long[]> expectedShapes(BertConfig c, boolean withPooler) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long h = c.hiddenSize();
        long f = c.intermediateSize();
        m.put("embeddings.word_embeddings.weight", new long[] {c.vocabSize(), h});
        m.put("embeddings.position_embeddings.weight", new long[] {c.maxPositionEmbeddings(), h});
        if (c.typeVocabSize() > 0) m.put("embeddings.token_type_embeddings.weight", new long[] {c.typeVocabSize(), h});
        m.put("embeddings.LayerNorm.weight", new long[] {h});
        m.put("embeddings.LayerNorm.bias", new long[] {h});
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "encoder.layer." + i + ".";
            for (String qkv : new String[] {"query", "key", "value"}) {
                m.put(p + "attention.self." + qkv + ".weight", new long[] {h, h});
                m.put(p + "attention.self." + qkv + ".bias", new long[] {h});
            }
            m.put(p + "attention.output.dense.weight", new long[] {h, h});
            m.put(p + "attention.output.dense.bias", new long[] {h});
            m.put(p + "attention.output.LayerNorm.weight", new long[] {h});
            m.put(p + "attention.output.LayerNorm.bias", new long[] {h});
            m.put(p + "intermediate.dense.weight", new long[] {f, h});
            m.put(p + "intermediate.dense.bias", new long[] {f});
            m.put(p + "output.dense.weight", new long[] {h, f});
            m.put(p + "output.dense.bias", new long[] {h});
            m.put(p + "output.LayerNorm.weight", new long[] {h});
            m.put(p + "output.LayerNorm.bias", new long[] {h});
        }
        if (withPooler) {
            m.put("pooler.dense.weight", new long[] {h, h});
            m.put("pooler.dense.bias", new long[] {h});
        }
        return m;
    }

    /** The config the tensors imply; heads, eps and activation are not visible in shapes and come from the caller. */
    public static BertConfig deriveConfig(
            Map<String, HostTensor> t, int heads, float layerNormEps, String act, int padTokenId, String origin) {
        long[] word = shape(t, "embeddings.word_embeddings.weight", 2, origin);
        long[] pos = shape(t, "embeddings.position_embeddings.weight", 2, origin);
        HostTensor types = t.get("embeddings.token_type_embeddings.weight");
        int layers = 0;
        for (String name : t.keySet()) {
            Matcher mt = LAYER.matcher(name);
            if (mt.find()) layers = Math.max(layers, Integer.parseInt(mt.group(1)) + 1);
        }
        if (layers == 0)
            throw new UserException(origin + ": no encoder layers found (no tensor named encoder.layer.N.*)");
        long[] inter = shape(t, "encoder.layer.0.intermediate.dense.weight", 2, origin);
        int hidden = (int) word[1];
        if (heads <= 0 || hidden % heads != 0) {
            throw new UserException(origin + ": " + heads + " attention heads do not divide hidden size " + hidden);
        }
        try {
            return new BertConfig(
                    (int) word[0],
                    hidden,
                    layers,
                    heads,
                    (int) inter[0],
                    act,
                    0.1f,
                    0.1f,
                    (int) pos[0],
                    types == null ? 0 : (int) types.shape()[0],
                    layerNormEps,
                    padTokenId,
                    false,
                    false);
        } catch (IllegalArgumentException e) {
            throw new UserException(origin + ": " + e.getMessage());
        }
    }

    /** Fails naming the first missing or mis-shaped tensor. */
    public static void check(Map<String, HostTensor> t, BertConfig c, boolean withPooler, String origin) {
        for (Map.Entry<String, long[]> e : expectedShapes(c, withPooler).entrySet()) {
            HostTensor x = t.get(e.getKey());
            if (x == null) {
                throw new UserException(origin + ": missing tensor '" + e.getKey() + "' (expected shape "
                        + Arrays.toString(e.getValue()) + ")");
            }
            if (!Arrays.equals(x.shape(), e.getValue())) {
                throw new UserException(origin + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(x.shape())
                        + " but the config implies " + Arrays.toString(e.getValue()));
            }
            if (x.dtype() != DType.F32 && x.dtype() != DType.F16 && x.dtype() != DType.BF16 && x.dtype() != DType.F64) {
                throw new UserException(origin + ": tensor '" + e.getKey() + "' has dtype " + x.dtype() + ", "
                        + "expected a float type");
            }
        }
    }

    /** Only the tensors BertModel reads, as float32 (drops e.g. position_ids buffers and pre-training heads). */
    public static Map<String, HostTensor> select(Map<String, HostTensor> t, BertConfig c, boolean withPooler) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (String name : expectedShapes(c, withPooler).keySet())
            out.put(name, t.get(name).asF32());
        return out;
    }

    private static long[] shape(Map<String, HostTensor> t, String name, int rank, String origin) {
        HostTensor x = t.get(name);
        if (x == null) throw new UserException(origin + ": missing tensor '" + name + "'");
        if (x.shape().length != rank) {
            throw new UserException(origin + ": tensor '" + name + "' has shape " + Arrays.toString(x.shape())
                    + ", expected rank " + rank);
        }
        return x.shape();
    }

    /** [rows, cols] float matrix transposed to [cols, rows] (TF/ONNX [in,out] kernels to torch [out,in]). */
    public static HostTensor transpose(HostTensor m) {
        if (m.shape().length != 2) throw new IllegalArgumentException("transpose needs a matrix, got " + m);
        int rows = (int) m.shape()[0];
        int cols = (int) m.shape()[1];
        float[] a = m.toFloats();
        float[] b = new float[a.length];
        // blocked so both reads and writes stay in cache for the 768x3072 kernels
        final int bs = 64;
        for (int i0 = 0; i0 < rows; i0 += bs) {
            for (int j0 = 0; j0 < cols; j0 += bs) {
                int i1 = Math.min(rows, i0 + bs);
                int j1 = Math.min(cols, j0 + bs);
                for (int i = i0; i < i1; i++) {
                    for (int j = j0; j < j1; j++) b[j * rows + i] = a[i * cols + j];
                }
            }
        }
        return HostTensor.ofFloats(b, cols, rows);
    }
}
