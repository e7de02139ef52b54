package dev.rage2e.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.model.generate.Generation;
import dev.rage2e.testutil.BertTokenizerJson;
import dev.rage2e.testutil.Fixtures;
import dev.rage2e.train.AdamW;
import dev.rage2e.util.Json;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole generator path learns: a BERT2BERT made by {@code init-generator} memorises 20 SQuAD
 * (question + context sentence -> answer) pairs to exact match 1.0 with AdamW, within a bounded number of
 * steps on CPU. The source BERT is a small randomly initialised one with the real uncased vocabulary and
 * tokenizer (no pretrained BERT can be fetched in tests); this checks the mechanics (loss, gradients through
 * encoder, cross-attention and tied head, optimiser, greedy decoding), not pretrained knowledge.
 */
class Bert2BertOverfitTest {
    static final int PAIRS = 20;
    static final int MAX_STEPS = 300;

    @TempDir
    Path tmp;

    record Pair(String input, String answer) {}

    /** SQuAD normalisation (lower case, no punctuation, no articles, single spaces), as the official script. */
    static String normalize(String s) {
        String t = s.toLowerCase().replaceAll("\\p{Punct}", "");
        t = t.replaceAll("\\b(a|an|the)\\b", " ");
        return String.join(" ", t.trim().split("\\s+"));
    }

    static List<Pair> squadPairs(TextTokenizer tok) {
        JsonNode squad = Json.read(Fixtures.data("squad/dev-v1.1.json"));
        List<Pair> out = new ArrayList<>();
        for (JsonNode article : squad.get("data")) {
            for (JsonNode para : article.get("paragraphs")) {
                String ctx = para.get("context").asText();
                for (JsonNode qa : para.get("qas")) {
                    JsonNode a = qa.get("answers").get(0);
                    String answer = a.get("text").asText();
                    int start = a.get("answer_start").asInt();
                    // the sentence holding the answer keeps inputs short
                    int from = Math.max(ctx.lastIndexOf(". ", start) + 2, 0),
                            to = ctx.indexOf(". ", start + answer.length());
                    String sentence = ctx.substring(from == 1 ? 0 : from, to < 0 ? ctx.length() : to + 1);
                    // only answers the uncased WordPiece round trip keeps (e.g. not "1,000" -> "1, 000")
                    long[] ids = tok.encode(answer, 64);
                    if (ids.length > 8 || !normalize(tok.decode(ids, true)).equals(normalize(answer))) continue;
                    out.add(new Pair(qa.get("question").asText() + " " + sentence, answer));
                    if (out.size() == PAIRS) return out;
                }
            }
        }
        return out;
    }

    /** A small random BERT in HF layout (weights N(0, 0.02), LayerNorm 1/0, biases 0), no dropout. */
    static void writeTinyBert(Path dir, Path tokenizer) throws Exception {
        Files.createDirectories(dir);
        int v = 30522, h = 64, inter = 256, pos = 128, layers = 2;
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("model_type", "bert");
        cfg.put("vocab_size", v);
        cfg.put("hidden_size", h);
        cfg.put("num_hidden_layers", layers);
        cfg.put("num_attention_heads", 4);
        cfg.put("intermediate_size", inter);
        cfg.put("max_position_embeddings", pos);
        cfg.put("hidden_dropout_prob", 0.0);
        cfg.put("attention_probs_dropout_prob", 0.0);
        Json.writeFile(dir.resolve("config.json"), cfg);
        Map<String, HostTensor> t =
                Bert2BertWarmStart.randomBert(BertConfig.load(dir.resolve("config.json")), 0.02f, 42);
        Safetensors.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"));
        Files.copy(tokenizer, dir.resolve("tokenizer.json"));
    }

    /**
     * By default a tiny random BERT; {@code -Drag.overfit.bert=models/NAME} (with optional
     * {@code -Drag.overfit.decoder-layers}, {@code -Drag.overfit.lr}, {@code -Drag.overfit.max-steps}) warm-starts
     * from a real checkpoint instead (an experiment, too slow for the default test run).
     */
    @Test
    void warmStartedGeneratorMemorisesTwentySquadPairs() throws Exception {
        String real = System.getProperty("rag.overfit.bert");
        Path bert;
        if (real == null) {
            Path tokJson = BertTokenizerJson.copyTo(Files.createDirectories(tmp.resolve("tok")));
            bert = tmp.resolve("bert-tiny");
            writeTinyBert(bert, tokJson);
        } else {
            bert = Path.of(real);
        }
        int decoderLayers = Integer.getInteger("rag.overfit.decoder-layers", 2);
        float lr = Float.parseFloat(System.getProperty("rag.overfit.lr", real == null ? "3e-3" : "3e-4"));
        int maxSteps = Integer.getInteger("rag.overfit.max-steps", MAX_STEPS);
        Path genDir = tmp.resolve("gen");
        Bert2BertWarmStart.initGenerator(bert, genDir, decoderLayers, 0);
        try (NDManager root = NDManager.newBaseManager();
                Seq2SeqModel gen = Seq2SeqModels.load(genDir, root)) {
            TextTokenizer tok = gen.tokenizer();
            List<Pair> pairs = squadPairs(tok);
            assertEquals(PAIRS, pairs.size());
            long[][] src = new long[PAIRS][], tgt = new long[PAIRS][];
            int maxTgt = 0;
            for (int i = 0; i < PAIRS; i++) {
                src[i] = tok.encode(pairs.get(i).input(), 96);
                tgt[i] = tok.encode(pairs.get(i).answer(), 16); // [CLS] answer [SEP]
                maxTgt = Math.max(maxTgt, tgt[i].length);
            }
            // RAG's convention: decoder reads [CLS] answer, predicts answer [SEP]; padding is ignored by the loss
            long[] decIn = new long[PAIRS * (maxTgt - 1)], labels = new long[PAIRS * (maxTgt - 1)];
            java.util.Arrays.fill(decIn, gen.padTokenId());
            java.util.Arrays.fill(labels, Seq2SeqLoss.IGNORE_INDEX);
            for (int i = 0; i < PAIRS; i++) {
                for (int j = 0; j + 1 < tgt[i].length; j++) {
                    decIn[i * (maxTgt - 1) + j] = tgt[i][j];
                    labels[i * (maxTgt - 1) + j] = tgt[i][j + 1];
                }
            }
            Map<String, NDArray> params = gen.params().parameters();
            gen.params().setRequiresGradient(true);
            GenerationConfig greedy = gen.generationConfig().withMaxLength(maxTgt + 1);
            long t0 = System.nanoTime();
            int step = 0;
            double em = 0, loss = Double.NaN;
            try (NDManager optManager = root.newSubManager()) {
                AdamW opt = new AdamW(params, optManager, 0.01f);
                while (step < maxSteps) {
                    try (NDManager sm = root.newSubManager()) {
                        TextTokenizer.Batch b = TextTokenizer.pad(sm, src, gen.padTokenId());
                        NDArray di = sm.create(decIn, new Shape(PAIRS, maxTgt - 1)),
                                lb = sm.create(labels, new Shape(PAIRS, maxTgt - 1));
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray l = Seq2SeqLoss.crossEntropy(
                                    gen.decode(di, gen.encode(b.ids(), b.mask(), true), b.mask(), true), lb, 0f);
                            gc.backward(l);
                            loss = l.getFloat();
                        }
                    }
                    AdamW.clipGradNorm(params.values(), optManager, 1f);
                    opt.step(lr);
                    step++;
                    if (step % 20 == 0) {
                        em = exactMatch(gen, src, pairs, greedy, root);
                        System.out.printf(
                                "overfit step %d loss %.4f EM %.2f (%.1f s)%n",
                                step, loss, em, (System.nanoTime() - t0) / 1e9);
                        if (em == 1.0) break;
                    }
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf(
                    "overfit (%s, %d decoder layers, lr %g): EM %.2f after %d steps, %.1f s (%.0f "
                            + "ms/step incl. evaluation)%n",
                    real == null ? "tiny random BERT" : real, decoderLayers, lr, em, step, secs, 1000 * secs / step);
            assertEquals(1.0, em, "exact match after " + step + " steps (loss " + loss + ")");
            assertTrue(step <= maxSteps);
        }
    }

    static double exactMatch(Seq2SeqModel gen, long[][] src, List<Pair> pairs, GenerationConfig cfg, NDManager m) {
        Generation.Result r = Generation.generate(gen, src, cfg, m);
        int hits = 0;
        for (int i = 0; i < src.length; i++) {
            String out = gen.tokenizer().decode(r.tokens(i, cfg.eosTokenId()), true);
            if (normalize(out).equals(normalize(pairs.get(i).answer()))) hits++;
        }
        return hits / (double) src.length;
    }
}
