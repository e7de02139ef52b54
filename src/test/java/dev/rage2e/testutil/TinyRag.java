package dev.rage2e.testutil;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.cli.Main;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.train.TrainConfig;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The tests' RAG fixtures. {@link #create}: a small but real RAG setup for training tests: a tiny randomly initialised
 * BERT with the real BERT uncased tokenizer as question/context encoder, a BERT2BERT generator warm-started from it,
 * and a KB built and encoded through the real kb code from SQuAD paragraphs. {@link #trained()}: one trained run,
 * shared by the serving tests.
 */
public final class TinyRag {
    public final Path root;
    public final Path encoder;
    public final Path generator;
    public final Path kb;
    public final Path squad;
    public final List<QaExample> questions;

    private TinyRag(Path root, Path encoder, Path generator, Path kb, Path squad, List<QaExample> questions) {
        this.root = root;
        this.encoder = encoder;
        this.generator = generator;
        this.kb = kb;
        this.squad = squad;
        this.questions = questions;
    }

    /**
     * @param nQuestions training questions (first question of consecutive paragraphs of the first articles)
     * @param distractors extra paragraphs in the KB whose questions are not used
     */
    public static TinyRag create(Path root, int nQuestions, int distractors, float dropout) throws Exception {
        return create(root, nQuestions, distractors, dropout, false);
    }

    /** As above; {@code copy} gives the generator a copy head (pointer-generator). */
    public static TinyRag create(Path root, int nQuestions, int distractors, float dropout, boolean copy)
            throws Exception {
        Path dev = Fixtures.data("squad/dev-v1.1.json");
        Path enc = root.resolve("encoder");
        Files.createDirectories(enc);
        BertTokenizerJson.copyTo(enc);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("model_type", "bert");
        cfg.put("vocab_size", 30522);
        cfg.put("hidden_size", 64);
        cfg.put("num_hidden_layers", 2);
        cfg.put("num_attention_heads", 4);
        cfg.put("intermediate_size", 128);
        cfg.put("max_position_embeddings", 256);
        cfg.put("hidden_dropout_prob", dropout);
        cfg.put("attention_probs_dropout_prob", dropout);
        Json.writeFile(enc.resolve("config.json"), cfg);
        Map<String, HostTensor> w =
                Bert2BertWarmStart.randomBert(BertConfig.load(enc.resolve("config.json")), 0.05f, 7);
        Safetensors.write(enc.resolve("model.safetensors"), w, Map.of("format", "pt"));
        ObjectNode settings = Json.MAPPER.createObjectNode();
        settings.put("pooling", "mean");
        settings.put("normalize", false);
        settings.put("max_length", 128);
        Json.writeFile(enc.resolve("rag-e2e.json"), settings);
        Path gen = root.resolve("generator");
        Bert2BertWarmStart.initGenerator(enc, gen, 2, 3, copy);

        // a SQuAD file with the chosen paragraphs: one question each for the first nQuestions, none for distractors
        ObjectNode src = (ObjectNode) Json.read(dev);
        ArrayNode outData = Json.MAPPER.createArrayNode();
        List<QaExample> qs = new ArrayList<>();
        int used = 0;
        Set<String> seen = new LinkedHashSet<>();
        for (var article : src.get("data")) {
            ObjectNode a = Json.MAPPER.createObjectNode();
            a.put("title", article.get("title").asText());
            ArrayNode paras = a.putArray("paragraphs");
            for (var p : article.get("paragraphs")) {
                if (used >= nQuestions + distractors) break;
                if (!seen.add(p.get("context").asText())) continue;
                ObjectNode para = paras.addObject();
                para.put("context", p.get("context").asText());
                ArrayNode qas = para.putArray("qas");
                if (used < nQuestions) {
                    var q = p.get("qas").get(0);
                    qas.add(q);
                    List<String> answers = new ArrayList<>();
                    for (var ans : q.get("answers")) answers.add(ans.get("text").asText());
                    qs.add(new QaExample(
                            q.get("id").asText(),
                            q.get("question").asText(),
                            answers,
                            article.get("title").asText(),
                            p.get("context").asText()));
                }
                used++;
            }
            if (paras.size() > 0) outData.add(a);
            if (used >= nQuestions + distractors) break;
        }
        ObjectNode squad = Json.MAPPER.createObjectNode();
        squad.put("version", "1.1");
        squad.set("data", outData);
        Path squadFile = root.resolve("squad-tiny.json");
        Json.writeFile(squadFile, squad);

        Path kb = root.resolve("kb");
        KbBuilder.build(List.of(squadFile), kb, 100);
        encode(kb, enc);
        return new TinyRag(root, enc, gen, kb, squadFile, qs);
    }

    /** Encodes and publishes a new embeddings version of {@code kb} with the encoder at {@code dir}. */
    public static String encode(Path kbDir, Path encoderDir) throws Exception {
        return encode(kbDir, encoderDir, 128);
    }

    /** As above, passages cut at {@code maxTokens}; returns the version's name. */
    public static String encode(Path kbDir, Path encoderDir, int maxTokens) throws IOException {
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel e = EncoderModel.load(encoderDir, m)) {
            KnowledgeBase kb = KnowledgeBase.open(kbDir);
            var r = EmbeddingsWriter.encode(
                    kb, e, EncoderIdentity.ofDirectory(e), new EmbeddingsWriter.Options(32, maxTokens, 0, 1, null));
            KbVersions.publish(kbDir, r.version());
            return r.version();
        }
    }

    /** A config for this setup; callers adjust steps and mode. */
    public TrainConfig config() {
        TrainConfig c = new TrainConfig();
        c.questionEncoder = encoder.toString();
        c.generator = generator.toString();
        c.kb = kb.toString();
        c.train = squad.toString();
        c.nDocs = 2;
        c.batchSize = 8;
        c.maxCombinedLength = 96;
        c.maxTargetLength = 16;
        c.lr = 1e-3f;
        c.warmupSteps = 0;
        c.scheduler = dev.rage2e.train.LrSchedule.Kind.CONSTANT;
        c.evalQuestions = 0;
        c.logEvery = 0;
        c.numBeams = 1;
        c.maxAnswerLength = 12;
        c.seed = 5;
        return c;
    }
    // --- the trained run the serving tests share

    /** Passages per question of {@link #trained()}'s run. */
    public static final int SERVED_N_DOCS = 3;

    /** A trained run: its data, KB, models and run folder (checkpoints at steps 2 and 4). */
    public record Trained(
            Path root, Path squad, Path kb, Path encoder, Path generator, Path run, List<String> questions) {
        public Path checkpoint(int step) {
            return run.resolve(String.format("checkpoint-%06d", step));
        }
    }

    private static Trained trained;

    /**
     * A tiny but real trained RAG run for the serving tests, built once per test JVM (a few seconds): a KB from two
     * of the repo's SQuAD demo articles, encoded by the fixture BERT (vocab 1000, hidden 64) with a small real
     * WordPiece tokenizer; a BERT2BERT generator warm-started from the same BERT; four training steps through
     * {@code rag train}. Random-weight models: it tests the serving mechanics, not answer quality.
     */
    public static synchronized Trained trained() throws Exception {
        if (trained != null) return trained;
        Path bert = Fixtures.hf("bert"); // skips the test when ../shared is absent
        Path squad = Path.of("data/demo/squad-demo.json").toAbsolutePath();
        Path root = Files.createTempDirectory("rag-serve-test");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                AtomicFiles.deleteTree(root);
            } catch (IOException ignored) {
                // best effort
            }
        }));
        long t0 = System.nanoTime();
        // two of the six demo articles keep the KB small (a few dozen passages)
        Path small = root.resolve("squad-small.json");
        var json = dev.rage2e.util.Json.read(squad);
        var data = (com.fasterxml.jackson.databind.node.ArrayNode) json.get("data");
        while (data.size() > 2) data.remove(data.size() - 1);
        Files.writeString(small, dev.rage2e.util.Json.write(json));

        Path kbDir = root.resolve("kb");
        KbBuilder.build(List.of(small), kbDir, 100);
        Path enc = TinyWordPieceTokenizer.tinyEncoder(
                root.resolve("enc"), "{\"pooling\": \"mean\", \"normalize\": true, \"max_length\": 64}");
        assertEquals("bert", bert.getFileName().toString());
        encode(kbDir, enc, 64);
        Path gen = root.resolve("gen");
        Bert2BertWarmStart.initGenerator(enc, gen, 1, 0);
        Path run = root.resolve("run");
        int rc = Main.run(
                "train",
                "--kb",
                kbDir.toString(),
                "--question-encoder",
                enc.toString(),
                "--generator",
                gen.toString(),
                "--train",
                small.toString(),
                "--out",
                run.toString(),
                "--max-steps",
                "4",
                "--checkpoint-every",
                "2",
                "--keep-checkpoints",
                "4",
                "--batch-size",
                "2",
                "--n-docs",
                String.valueOf(SERVED_N_DOCS),
                "--max-combined-length",
                "96",
                "--max-target-length",
                "10",
                "--num-beams",
                "2",
                "--max-answer-length",
                "8",
                "--log-every",
                "0",
                "--lr",
                "1e-3");
        assertEquals(0, rc, "rag train failed");
        List<String> questions = new ArrayList<>();
        for (QaExample e : SquadReader.read(small)) {
            if (questions.size() < 16) questions.add(e.question());
        }
        trained = new Trained(root, small, kbDir, enc, gen, run, questions);
        System.err.printf(
                "TinyRag trained run: %d passages, run %s (%.1f s)%n",
                KnowledgeBase.open(kbDir).size(), run, (System.nanoTime() - t0) / 1e9);
        return trained;
    }

    /** A private copy of a folder tree (so a test may move pointers or add versions without disturbing others). */
    public static Path copyTree(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }
}
