package dev.rage2e.convert;

import dev.rage2e.model.BertConfig;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.DType;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.ModelFiles;
import dev.rage2e.weights.OnnxGraph;
import dev.rage2e.weights.TokenizerJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a BERT exported to ONNX (e.g. by {@code torch.onnx.export} of HF {@code BertModel}) into HF
 * {@code BertModel} tensors. Exporters keep HF names for embeddings, biases and LayerNorms but store
 * most Linear weights pre-transposed ([in, out]) under anonymous names such as
 * {@code onnx::MatMul_1525}; those are named by following the graph: the MatMul (or Gemm) that reads
 * the weight, the bias added to its output, or, failing that, the module path in the node's name.
 * Heads and LayerNorm epsilon, invisible in weight shapes, are read from the graph's constants.
 */
public final class OnnxImporter {
    /** An HF BertModel tensor name, possibly under a wrapper prefix ("bert.", "0.auto_model."). */
    private static final Pattern HF_NAME =
            Pattern.compile("^(?:.*?\\.)?((?:embeddings|encoder\\.layer\\.\\d+|pooler)\\..+\\.(?:weight|bias))$");
    /** The Linear modules of a BertModel. */
    private static final Pattern LINEAR =
            Pattern.compile("^(?:.*?\\.)?(encoder\\.layer\\.\\d+\\.(?:attention\\.self\\.(?:query|key|value)"
                    + "|attention\\.output\\.dense|intermediate\\.dense|output\\.dense)|pooler\\.dense)$");

    private OnnxImporter() {}

    /**
     * Converts the ONNX BERT in {@code src}: an .onnx file (tokenizer from {@code tokenizer}, or
     * {@code NAME-tokenizer.json} / {@code tokenizer.json} beside it or one folder up, as in HF's
     * {@code onnx/model.onnx} layout), a directory, or a jar holding one .onnx and its tokenizer.
     */
    public static ConvertedBert fromPath(Path src, Path tokenizer, int headsHint) {
        try {
            if (Files.isRegularFile(src)
                    && !ModelFiles.isZip(src)
                    && !src.getFileName().toString().endsWith(".onnx")) {
                throw new UserException(src + ": expected an .onnx file, a folder holding one, or a jar/zip");
            }
        } catch (IOException e) {
            throw new UserException(src + ": cannot read: " + e.getMessage());
        }
        ModelFiles files = ModelFiles.open(src, n -> n.endsWith(".onnx") || n.endsWith("tokenizer.json"));
        String onnx = files.primary() != null && files.primary().endsWith(".onnx") ? files.primary() : null;
        if (onnx == null) {
            List<String> all =
                    files.names().stream().filter(n -> n.endsWith(".onnx")).toList();
            if (all.size() != 1) {
                throw new UserException(src + ": " + (all.isEmpty() ? "no .onnx file" : "several .onnx files " + all)
                        + "; give one .onnx file");
            }
            onnx = all.get(0);
        }
        String origin = files.primary() != null ? src.toString() : src + "!" + onnx;
        String tokText;
        if (tokenizer != null) {
            try {
                tokText = Files.readString(tokenizer);
            } catch (IOException e) {
                throw new UserException(tokenizer + ": cannot read tokenizer: " + e.getMessage());
            }
        } else {
            String dir = onnx.contains("/") ? onnx.substring(0, onnx.lastIndexOf('/') + 1) : "";
            String stem = onnx.substring(dir.length(), onnx.length() - ".onnx".length());
            String up = dir.isEmpty()
                    ? null
                    : (dir.substring(0, dir.length() - 1).contains("/")
                            ? dir.substring(
                                    0, dir.substring(0, dir.length() - 1).lastIndexOf('/') + 1)
                            : "");
            String found = null;
            for (String c : new String[] {
                dir + stem + "-tokenizer.json", dir + "tokenizer.json", up == null ? null : up + "tokenizer.json"
            }) {
                if (c != null && files.has(c)) {
                    found = c;
                    break;
                }
            }
            if (found == null && files.primary() != null) {
                Path sib = src.toAbsolutePath().getParent().getParent();
                if (sib != null && Files.isRegularFile(sib.resolve("tokenizer.json"))) {
                    try {
                        tokText = Files.readString(sib.resolve("tokenizer.json"));
                        return convert(files.bytes(onnx), origin, tokText, headsHint);
                    } catch (IOException e) {
                        throw new UserException(sib.resolve("tokenizer.json") + ": cannot read: " + e.getMessage());
                    }
                }
            }
            if (found == null)
                throw new UserException(
                        src + ": no tokenizer.json found beside " + onnx + "; give one with --tokenizer");
            tokText = new String(files.bytes(found), StandardCharsets.UTF_8);
        }
        return convert(files.bytes(onnx), origin, tokText, headsHint);
    }

    /**
     * @param headsHint attention heads to use when the graph does not say (0: fail instead)
     * @param tokenizerJson the model's tokenizer.json text
     */
    public static ConvertedBert convert(byte[] onnx, String origin, String tokenizerJson, int headsHint) {
        OnnxGraph g = OnnxGraph.parse(onnx, origin);
        Map<String, String> linearOutputs = new HashMap<>();
        Map<String, HostTensor> tensors = hfTensors(g, linearOutputs);
        if (!tensors.containsKey("embeddings.word_embeddings.weight")) {
            boolean quantized = g.nodes.stream()
                    .anyMatch(n -> n.opType().contains("Quantize") || n.opType().contains("Integer"));
            throw new UserException(origin + ": no tensor 'embeddings.word_embeddings.weight'; "
                    + (quantized
                            ? "quantized ONNX models are not supported"
                            : "is this an ONNX export of a BERT model?"));
        }
        int hidden = (int) tensors.get("embeddings.word_embeddings.weight").shape()[1];
        int heads = heads(g, linearOutputs.get("encoder.layer.0.attention.self.query"), hidden);
        if (heads <= 0) heads = headsHint;
        if (heads <= 0) {
            throw new UserException(origin + ": cannot read the number of attention heads from the graph; give it "
                    + "explicitly (--heads)");
        }
        Float eps = layerNormEps(g, tensors);
        TokenizerJson tok = TokenizerJson.parse(tokenizerJson, origin + " tokenizer");
        BertConfig config = BertLayout.deriveConfig(
                tensors, heads, eps == null ? 1e-12f : eps, activation(g, origin), tok.padId(), origin);
        boolean pooler = tensors.containsKey("pooler.dense.weight");
        BertLayout.check(tensors, config, pooler, origin);
        if (eps == null)
            System.err.println("rag: " + origin + ": LayerNorm epsilon not found in the graph; using 1e-12");
        return new ConvertedBert(config, BertLayout.select(tensors, config, pooler), tok.cleaned(), origin);
    }

    /**
     * Tensors under HF names. {@code linearOutputs} receives, for each Linear module, the graph value
     * holding its output (bias included), from which the attention reshape is found.
     */
    static Map<String, HostTensor> hfTensors(OnnxGraph g, Map<String, String> linearOutputs) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        Set<String> usedAsLinearWeight = new HashSet<>();
        List<String> unnamed = new ArrayList<>();
        for (OnnxGraph.Node n : g.nodes) {
            boolean gemm = n.opType().equals("Gemm");
            if (!gemm && !n.opType().equals("MatMul")) continue;
            if (n.inputs().size() < 2) continue;
            String wValue = n.inputs().get(1);
            HostTensor w = g.constant(wValue);
            boolean outIn; // true when stored as torch's [out, in]
            if (w != null) {
                outIn = gemm && attrInt(n, "transB", 0) == 1;
            } else {
                // MatMul(x, Transpose(W)) keeps the torch layout under the module's own name
                OnnxGraph.Node t = g.producer(wValue);
                if (t == null
                        || !t.opType().equals("Transpose")
                        || g.constant(t.inputs().get(0)) == null) continue;
                w = g.constant(t.inputs().get(0));
                outIn = !(gemm && attrInt(n, "transB", 0) == 1);
                usedAsLinearWeight.add(t.inputs().get(0));
            }
            if (w.shape().length != 2) continue;
            if (gemm && attrInt(n, "transA", 0) != 0) continue;
            usedAsLinearWeight.add(wValue);

            String biasValue = null;
            String outputValue = n.outputs().get(0);
            if (gemm && n.inputs().size() > 2 && g.constant(n.inputs().get(2)) != null) {
                biasValue = n.inputs().get(2);
            } else if (!gemm) {
                List<OnnxGraph.Node> cs = g.consumers(outputValue);
                if (cs.size() == 1 && cs.get(0).opType().equals("Add")) {
                    OnnxGraph.Node add = cs.get(0);
                    String other = add.inputs().get(0).equals(outputValue)
                            ? add.inputs().get(1)
                            : add.inputs().get(0);
                    HostTensor b = g.constant(other);
                    if (b != null && b.shape().length == 1) {
                        biasValue = other;
                        outputValue = add.outputs().get(0);
                    }
                }
            }
            String fromBias = biasValue == null ? null : linearBase(biasValue, ".bias");
            String fromNode = linearBase(nodePath(n.name()), "");
            if (fromBias != null && fromNode != null && !fromBias.equals(fromNode)) {
                throw new UserException(g.origin() + ": node '" + n.name() + "' adds bias '" + biasValue + "' of "
                        + "module " + fromBias
                        + " but is named after module " + fromNode + "; refusing to guess");
            }
            String base = fromBias != null ? fromBias : fromNode;
            if (base == null) {
                unnamed.add(n.name() + "(" + wValue + " " + Arrays.toString(w.shape()) + ")");
                continue;
            }
            HostTensor weight = outIn ? w : BertLayout.transpose(w);
            if (out.put(base + ".weight", weight) != null) {
                throw new UserException(g.origin() + ": two MatMul/Gemm nodes map to module " + base + " (second: "
                        + "'" + n.name() + "')");
            }
            if (biasValue != null) out.put(base + ".bias", g.constant(biasValue));
            linearOutputs.put(base, outputValue);
        }
        for (Map.Entry<String, HostTensor> e : g.initializers.entrySet()) {
            if (usedAsLinearWeight.contains(e.getKey()) || e.getValue() == null) continue;
            Matcher m = HF_NAME.matcher(e.getKey());
            if (m.matches()) out.putIfAbsent(m.group(1), e.getValue());
        }
        if (!unnamed.isEmpty() && out.containsKey("embeddings.word_embeddings.weight")) {
            // only fatal if a BertModel tensor ends up missing; BertLayout.check names it, this says why
            System.err.println("rag: " + g.origin() + ": MatMul weights not attributable to a BERT module: " + unnamed);
        }
        return out;
    }

    /** "/encoder/layer.0/attention/self/query/MatMul" -> "encoder.layer.0.attention.self.query". */
    private static String nodePath(String nodeName) {
        String s = nodeName.startsWith("/") ? nodeName.substring(1) : nodeName;
        int slash = s.lastIndexOf('/');
        if (slash < 0) return "";
        return s.substring(0, slash).replace('/', '.');
    }

    private static String linearBase(String name, String suffix) {
        if (!name.endsWith(suffix)) return null;
        Matcher m = LINEAR.matcher(name.substring(0, name.length() - suffix.length()));
        return m.matches() ? m.group(1) : null;
    }

    private static long attrInt(OnnxGraph.Node n, String key, long dflt) {
        OnnxGraph.Attribute a = n.attr(key);
        return a == null ? dflt : a.i();
    }

    /**
     * Heads from the Reshape that splits the query projection into [batch, len, heads, head_dim], or
     * from a fused attention op's {@code num_heads}; 0 when neither is found.
     */
    static int heads(OnnxGraph g, String queryOutput, int hidden) {
        for (OnnxGraph.Node n : g.nodes) {
            OnnxGraph.Attribute a = n.attr("num_heads");
            if (a != null && (n.opType().equals("Attention") || n.opType().equals("MultiHeadAttention")) && a.i() > 0)
                return (int) a.i();
        }
        if (queryOutput == null) return 0;
        for (OnnxGraph.Node r : g.consumers(queryOutput)) {
            if (!r.opType().equals("Reshape") || !r.inputs().get(0).equals(queryOutput)) continue;
            long[] target = shapeVector(g, r.inputs().get(1));
            if (target == null || target.length < 2) continue;
            long h = target[target.length - 2];
            long d = target[target.length - 1];
            if (h > 0 && d > 0 && h * d == hidden) return (int) h;
        }
        return 0;
    }

    /** A shape operand as numbers, with -1 for the dynamic parts (Concat of runtime dims and constants). */
    private static long[] shapeVector(OnnxGraph g, String value) {
        HostTensor c = g.constant(value);
        if (c != null) return c.dtype() == DType.I64 || c.dtype() == DType.I32 ? c.toLongs() : null;
        OnnxGraph.Node p = g.producer(value);
        if (p == null || !p.opType().equals("Concat")) return null;
        List<Long> parts = new ArrayList<>();
        for (String in : p.inputs()) {
            HostTensor t = g.constant(in);
            if (t != null && (t.dtype() == DType.I64 || t.dtype() == DType.I32)) {
                for (long v : t.toLongs()) parts.add(v);
            } else {
                parts.add(-1L); // a runtime dimension (Unsqueeze of a Gather of Shape): one element
            }
        }
        return parts.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * LayerNorm epsilon of the embeddings: the attribute of a fused LayerNormalization, or the
     * constant in the decomposed form gamma * (x - mean) / sqrt(var + eps) + beta.
     */
    static Float layerNormEps(OnnxGraph g, Map<String, HostTensor> tensors) {
        HostTensor gamma = tensors.get("embeddings.LayerNorm.weight");
        String gammaValue = null;
        for (Map.Entry<String, HostTensor> e : g.initializers.entrySet()) {
            if (e.getValue() == gamma) gammaValue = e.getKey();
        }
        if (gammaValue == null) return null;
        for (OnnxGraph.Node n : g.consumers(gammaValue)) {
            if (n.opType().equals("LayerNormalization")) {
                OnnxGraph.Attribute a = n.attr("epsilon");
                return a == null ? 1e-5f : a.f();
            }
            if (!n.opType().equals("Mul")) continue;
            String other = n.inputs().get(0).equals(gammaValue)
                    ? n.inputs().get(1)
                    : n.inputs().get(0);
            OnnxGraph.Node div = g.producer(other);
            if (div == null || !div.opType().equals("Div")) continue;
            OnnxGraph.Node sqrt = g.producer(div.inputs().get(1));
            if (sqrt == null || !sqrt.opType().equals("Sqrt")) continue;
            OnnxGraph.Node add = g.producer(sqrt.inputs().get(0));
            if (add == null || !add.opType().equals("Add")) continue;
            for (String in : add.inputs()) {
                HostTensor c = g.constant(in);
                if (c != null && c.numel() == 1 && (c.dtype() == DType.F32 || c.dtype() == DType.F64))
                    return c.toFloats()[0];
            }
        }
        return null;
    }

    /** Exact (erf) GELU as HF "gelu", or the tanh approximation as "gelu_new". */
    static String activation(OnnxGraph g, String origin) {
        boolean erf = false;
        boolean tanhGelu = false;
        for (OnnxGraph.Node n : g.nodes) {
            switch (n.opType()) {
                case "Erf", "Gelu" -> erf = true;
                case "FastGelu" -> tanhGelu = true;
                case "Tanh" -> tanhGelu |= n.name().contains("intermediate");
                default -> {}
            }
        }
        if (erf) return "gelu";
        if (tanhGelu) return "gelu_new";
        throw new UserException(origin + ": cannot recognise the feed-forward activation (no Erf/Gelu/FastGelu node)");
    }
}
