package dev.rage2e.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A DPR-style text encoder: {@link BertModel} + tokenizer + pooling settings, loaded from a model
 * directory in HF layout ({@code config.json}, {@code model.safetensors}, {@code tokenizer.json}) plus
 * optional {@code rag-e2e.json}. Used as question encoder and as (trainable) context encoder.
 */
public final class EncoderModel implements AutoCloseable {
    /** Name prefixes under which HF checkpoints store a BERT body, tried in order. */
    private static final List<String> PREFIXES =
            List.of("", "bert.", "question_encoder.bert_model.", "ctx_encoder.bert_model.", "bert_model.");

    public final BertConfig config;
    public final EncoderSettings settings;
    public final BertModel bert;
    public final ParamStore params;
    public final String prefix;
    private final TextTokenizer tokenizer; // null when the directory has no tokenizer.json
    private final Path dir;
    private NDManager ownedManager;
    private final boolean usesPooler;

    private EncoderModel(
            Path dir,
            BertConfig config,
            EncoderSettings settings,
            ParamStore params,
            String prefix,
            TextTokenizer tokenizer) {
        this.dir = dir;
        this.config = config;
        this.settings = settings;
        this.params = params;
        this.prefix = prefix;
        boolean hasPooler = params.has(prefix + "pooler.dense.weight");
        boolean usesPooler = hasPooler && settings.pooling().equals("pooler");
        if (hasPooler && !usesPooler) {
            // kept and saved unchanged, but neither computed nor trained (AdamW's decay would change unused weights)
            params.buffer(prefix + "pooler.dense.weight");
            if (params.has(prefix + "pooler.dense.bias")) params.buffer(prefix + "pooler.dense.bias");
        }
        this.usesPooler = usesPooler;
        this.bert = new BertModel(params, prefix, config, hasPooler); // kept for HF-parity callers of bert.forward
        this.tokenizer = tokenizer;
    }

    public static EncoderModel load(Path dir, NDManager parent) {
        Path weights = dir.resolve("model.safetensors");
        if (!Files.isDirectory(dir)) throw new UserException(dir + ": model directory not found");
        if (!Files.exists(weights)) {
            if (Files.exists(dir.resolve("pytorch_model.bin"))) {
                throw new UserException(dir + ": pytorch_model.bin (pickle) is not supported; convert it to "
                        + "model.safetensors "
                        + "(e.g. in Python: model.save_pretrained(dir, safe_serialization=True))");
            }
            throw new UserException(dir + ": missing model.safetensors");
        }
        BertConfig config = BertConfig.load(dir.resolve("config.json"));
        EncoderSettings settings = EncoderSettings.load(dir);
        Map<String, HostTensor> tensors = Safetensors.read(weights);
        String prefix = PREFIXES.stream()
                .filter(p -> tensors.containsKey(p + "embeddings.word_embeddings.weight"))
                .findFirst()
                .orElseThrow(() -> new UserException(weights + ": missing tensor 'embeddings.word_embeddings.weight' "
                        + "(no BERT body under any known prefix " + PREFIXES + ")"));
        ParamStore params = ParamStore.fromHost(parent, tensors, weights.toString());
        Path tok = dir.resolve("tokenizer.json");
        TextTokenizer tokenizer = Files.exists(tok) ? TextTokenizer.load(tok, config.padTokenId()) : null;
        try {
            return new EncoderModel(dir, config, settings, params, prefix, tokenizer);
        } catch (RuntimeException e) {
            params.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    public int dim() {
        return config.hiddenSize();
    }

    public TextTokenizer tokenizer() {
        if (tokenizer == null) throw new UserException(dir + ": no tokenizer.json; pass token ids instead");
        return tokenizer;
    }

    public boolean hasTokenizer() {
        return tokenizer != null;
    }

    /** Pooled (and optionally L2-normalised) vectors [B, H]; differentiable when grads are recorded. */
    public NDArray embed(NDArray ids, NDArray mask, boolean training) {
        BertModel.Output out = bert.forward(ids, mask, null, null, null, training, usesPooler);
        NDArray v = switch (settings.pooling()) {
            case "cls" -> out.lastHiddenState().get(":, 0, :");
            case "pooler" -> {
                if (out.poolerOutput() == null)
                    throw new UserException(dir + ": pooling 'pooler' but the checkpoint has no pooler");
                yield out.poolerOutput();
            }
            default -> {
                NDArray m = mask.toType(DataType.FLOAT32, false).expandDims(2);
                yield out.lastHiddenState()
                        .mul(m)
                        .sum(new int[] {1})
                        .div(m.sum(new int[] {1}).maximum(1e-9f));
            }
        };
        if (settings.normalize()) {
            v = v.div(Scalars.maximum(v.square().sum(new int[] {1}, true).sqrt(), 1e-12f));
        }
        return v;
    }

    public String withPrefix(String text, boolean query) {
        return (query ? settings.queryPrefix() : settings.passagePrefix()) + text;
    }

    /** Token ids for texts (prefix applied), truncated to {@code maxLen}. */
    public long[][] tokenize(List<String> texts, boolean query, int maxLen) {
        List<String> t = new ArrayList<>(texts.size());
        for (String s : texts) t.add(withPrefix(s, query));
        return tokenizer().encodeBatch(t, Math.min(maxLen, config.maxPositionEmbeddings()));
    }

    /**
     * Inference over many token sequences: sorted by length into batches so padding is minimal (at most
     * {@code batchSize} rows, fewer for long rows: {@link #batchEnd}), each batch in its own sub-manager. Returns rows in
     * input order.
     */
    public float[][] encodeIds(long[][] seqs, int batchSize, ProgressListener progress) {
        Integer[] order = new Integer[seqs.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt(i -> seqs[i].length));
        float[][] out = new float[seqs.length][];
        int done = 0;
        for (int start = 0, end; start < order.length; start = end) {
            end = batchEnd(seqs, order, start, batchSize);
            long[][] batch = new long[end - start][];
            for (int i = start; i < end; i++) batch[i - start] = seqs[order[i]];
            try (NDManager m = params.manager().newSubManager()) {
                TextTokenizer.Batch b = TextTokenizer.pad(m, batch, config.padTokenId());
                NDArray v = embed(b.ids(), b.mask(), false);
                float[] flat = v.toFloatArray();
                int d = (int) v.getShape().get(1);
                for (int i = start; i < end; i++)
                    out[order[i]] = Arrays.copyOfRange(flat, (i - start) * d, (i - start + 1) * d);
            }
            done += end - start;
            if (progress != null) progress.update(done, seqs.length);
        }
        return out;
    }

    /**
     * Largest rows x tokens^2 of one inference batch: 32 rows of 256 tokens. Every intermediate array of a forward
     * pass lives until its batch's manager closes, so a batch holds three [rows, heads, L, L] attention arrays per
     * layer at once (measured 2026-12-08: e5-small-v2, 12 layers, 32 rows of 512 tokens, ~14 GB of resident memory in
     * one batch, which got KB refreshes OOM-killed). Longer rows therefore come in smaller batches.
     */
    static final long MAX_ROWS_TIMES_SQUARED_LENGTH = 32L * 256 * 256;

    /**
     * Where the batch starting at {@code start} of the length-sorted {@code order} ends: at most {@code batchSize}
     * rows, fewer when its longest (last) row would exceed {@link #MAX_ROWS_TIMES_SQUARED_LENGTH}; at least one.
     */
    static int batchEnd(long[][] seqs, Integer[] order, int start, int batchSize) {
        int end = Math.min(order.length, start + batchSize);
        while (end - start > 1) {
            long len = seqs[order[end - 1]].length;
            if ((end - start) * len * len <= MAX_ROWS_TIMES_SQUARED_LENGTH) break;
            end--;
        }
        return end;
    }

    public float[][] encodeTexts(List<String> texts, boolean query, int maxLen, int batchSize) {
        return encodeIds(tokenize(texts, query, maxLen), batchSize, null);
    }

    /** Writes the model in HF layout (bare BertModel names) plus tokenizer and settings. */
    public void save(Path out) throws IOException {
        Files.createDirectories(out);
        Map<String, HostTensor> host = new java.util.LinkedHashMap<>();
        params.toHost().forEach((k, v) -> host.put(k.substring(prefix.length()), v));
        Safetensors.write(out.resolve("model.safetensors"), host, Map.of("format", "pt"));
        Json.writeFile(out.resolve("config.json"), config.toJson());
        Json.writeFile(out.resolve(EncoderSettings.FILE), settings.toJson());
        if (tokenizer != null
                && !tokenizer
                        .file()
                        .toAbsolutePath()
                        .equals(out.resolve("tokenizer.json").toAbsolutePath())) {
            Path tmp = out.resolve(".tokenizer.json.tmp");
            Files.copy(tokenizer.file(), tmp, StandardCopyOption.REPLACE_EXISTING);
            AtomicFiles.move(tmp, out.resolve("tokenizer.json"));
        }
    }

    @Override
    public void close() {
        params.close();
        if (tokenizer != null) tokenizer.close();
        if (ownedManager != null) ownedManager.close();
    }

    /**
     * An encoder with the architecture, settings and tokenizer of {@code dir} but the given weights (a
     * snapshot of a training encoder, by the same names as {@code params.toHost()}). It owns a private
     * base manager, so it can live on another thread than the model it was copied from.
     */
    public static EncoderModel fromWeights(Path dir, Map<String, HostTensor> weights) {
        return fromWeights(dir, weights, null);
    }

    /** As {@link #fromWeights(Path, Map)}, on {@code device} (null: the engine's default). */
    public static EncoderModel fromWeights(Path dir, Map<String, HostTensor> weights, ai.djl.Device device) {
        BertConfig config = BertConfig.load(dir.resolve("config.json"));
        NDManager own = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
        ParamStore params = ParamStore.fromHost(own, weights, "snapshot of " + dir);
        String prefix = PREFIXES.stream()
                .filter(p -> weights.containsKey(p + "embeddings.word_embeddings.weight"))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("snapshot lacks embeddings.word_embeddings.weight"));
        Path tok = dir.resolve("tokenizer.json");
        EncoderModel m = new EncoderModel(
                dir,
                config,
                EncoderSettings.load(dir),
                params,
                prefix,
                Files.exists(tok) ? TextTokenizer.load(tok, config.padTokenId()) : null);
        m.ownedManager = own;
        return m;
    }

    @FunctionalInterface
    public interface ProgressListener {
        void update(int done, int total);
    }
}
