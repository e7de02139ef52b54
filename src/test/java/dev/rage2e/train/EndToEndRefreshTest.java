package dev.rage2e.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.convert.ModelDirs;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.KbIndexBuilder;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.run.TrainingRun;
import dev.rage2e.testutil.MavenJars;
import dev.rage2e.testutil.TinyRag;
import dev.rage2e.train.refresh.AsyncKbRefresher;
import dev.rage2e.train.refresh.KbRefresher;
import dev.rage2e.train.refresh.WeightsSnapshot;
import dev.rage2e.util.Json;
import dev.rage2e.weights.HostTensor;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end retriever training: the KB is re-encoded and re-indexed in the background and swapped in. */
class EndToEndRefreshTest {
    @TempDir
    Path tmp;

    @Test
    void refreshesPublishNewEmbeddingsWhileTrainingContinues() throws Exception {
        TinyRag t = TinyRag.create(tmp, 16, 48, 0.0f);
        String initial = KbVersions.requireCurrent(t.kb);
        // replaced versions are deleted
        float[][] initialRows = rows(Embeddings.open(KnowledgeBase.open(t.kb), initial));
        TrainConfig c = t.config();
        c.mode = TrainConfig.Mode.END2END;
        c.maxSteps = 12;
        c.indexingFreq = 2;
        c.batchSize = 4;
        c.logEvery = 1;
        c.maxSteps = Integer.getInteger("rag.test.e2e-steps", 12);
        c.refreshThreads = Integer.getInteger("rag.test.refresh-threads", c.refreshThreads);
        c.refreshPublishLag = 1;
        Path run = tmp.resolve("run");
        Map<String, HostTensor> trainedWeights;
        // collect garbage between every forward and backward: autograd must not depend on JVM-owned
        // buffers that DJL already closed (regression: constants of scalar ops were freed -> NaN gradients)
        System.setProperty("rag.debug.gc", "true");
        try (TrainingRun r = TrainingRun.open(c, run, false)) {
            r.run(Integer.MAX_VALUE);
            trainedWeights = r.model().contextEncoder.params.toHost();
        } finally {
            System.clearProperty("rag.debug.gc");
        }
        List<JsonNode> events = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) events.add(Json.MAPPER.readTree(line));
        List<JsonNode> published = events.stream()
                .filter(e -> e.get("event").asText().equals("refresh_published"))
                .toList();
        assertFalse(published.isEmpty(), "at least one refresh was published");
        long nonFinite = events.stream()
                .filter(e -> e.get("event").asText().equals("nonfinite_gradient"))
                .count();
        assertEquals(0, nonFinite, "no step may see a non-finite gradient while refreshes run");
        // refreshes start after steps 2, 4, .., 10 and, with --refresh-publish-lag 1, are published exactly one step
        // later; the final one (from the final weights) is published at once
        List<String> pubs = published.stream()
                .map(e -> e.get("start_step").asInt() + "->" + e.get("step").asInt())
                .toList();
        assertEquals(List.of("2->3", "4->5", "6->7", "8->9", "10->11", "12->12"), pubs);
        java.util.Map<String, List<Double>> waits = new java.util.TreeMap<>();
        for (JsonNode e : events) {
            if (e.get("event").asText().equals("training_wait")) {
                assertTrue(e.get("training_wait_s").asDouble() < 2.0, "training waited " + e);
                waits.computeIfAbsent(e.get("what").asText(), k -> new ArrayList<>())
                        .add(e.get("training_wait_s").asDouble() * 1000);
            }
        }
        waits.forEach((what, ms) -> {
            List<Double> sorted = ms.stream().sorted().toList();
            System.out.printf(
                    "training_wait %s: n=%d p50 %.2f ms, max %.2f ms%n",
                    what, sorted.size(), sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1));
        });
        String current = KbVersions.requireCurrent(t.kb);
        assertNotEquals(initial, current, "a newer embeddings version is current");
        KnowledgeBase kb = KnowledgeBase.open(t.kb);
        float[][] now = rows(Embeddings.open(kb, current));
        double diff = 0;
        for (int i = 0; i < now.length; i++)
            for (int j = 0; j < now[i].length; j++) diff = Math.max(diff, Math.abs(now[i][j] - initialRows[i][j]));
        assertTrue(diff > 1e-4, "stored embeddings changed: " + diff);
        assertFalse(Files.exists(t.kb.resolve(initial)), "the replaced version was deleted once no reader held it");
        try (Stream<Path> s = Files.list(t.kb)) {
            assertTrue(
                    s.noneMatch(p -> p.getFileName().toString().contains(".tmp")), "no partial files left in the KB");
        }
        // the checkpoint carries the trained context encoder and names the version it used
        Path cp = Checkpoints.resolve(run);
        assertTrue(Files.isDirectory(cp.resolve("context_encoder")));
        assertTrue(KbVersions.isVersionName(Checkpoints.readState(cp).embeddingsVersion));
        // the base encoder's version is gone: a next run from the base encoder is told how to get one back
        dev.rage2e.util.UserException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.rage2e.util.UserException.class,
                () -> dev.rage2e.run.TrainingRun.kbEncoderPath(KnowledgeBase.open(t.kb)));
        assertTrue(
                e.getMessage().contains("(" + current + ")")
                        && e.getMessage().contains("no other version here was made from one")
                        && e.getMessage().contains("re-encode with rag kb encode --kb " + t.kb),
                e.getMessage());
    }

    /**
     * The refresher's vectors against an independent implementation: ONNX Runtime running the original
     * all-MiniLM-L6 ONNX file whose weights the snapshot holds (same tokens; pooling done here).
     */
    @Test
    void refreshedEmbeddingsEqualOnnxRuntimeOnTheSnapshotWeights() throws Exception {
        TinyRag t = TinyRag.create(tmp, 4, 20, 0.0f);
        ModelCatalog.Entry entry = ModelCatalog.get("all-minilm-l6-v2");
        Path jar = MavenJars.locate("all-minilm-l6-v2.onnx", entry.groupId(), entry.artifactId(), entry.version());
        Path minilm = tmp.resolve("minilm");
        ModelDirs.write(ModelCatalog.convert(entry, jar), entry.settings(), minilm, false);
        byte[] onnx;
        try (ZipFile z = new ZipFile(jar.toFile())) {
            onnx = z.getInputStream(z.getEntry("all-minilm-l6-v2.onnx")).readAllBytes();
        }
        KnowledgeBase kb = KnowledgeBase.open(t.kb);
        Map<String, HostTensor> snapshot;
        String initial;
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(minilm, m)) {
            snapshot = enc.params.toHost();
            // the version being replaced: same encoder, passages cut to 8 tokens
            initial = EmbeddingsWriter.encode(
                            kb, enc, EncoderIdentity.ofDirectory(enc), new EmbeddingsWriter.Options(16, 8, 0, 1, null))
                    .version();
            KbVersions.publish(t.kb, initial);
        }
        MetricsLog metrics = new MetricsLog(tmp.resolve("metrics.jsonl"));
        try (var retriever = dev.rage2e.index.KbRetriever.open(kb, "flat");
                KbRefresher refresher = new AsyncKbRefresher(
                        new KbIndexBuilder(
                                retriever,
                                "flat",
                                new HnswIndex.Params(16, 50, 50, 1),
                                new EmbeddingsWriter.Options(16, 128, 0, 1, null),
                                false),
                        w -> EncoderModel.fromWeights(minilm, w),
                        metrics,
                        1,
                        null,
                        2)) {
            assertTrue(refresher.trySnapshot(1, WeightsSnapshot.ofHost(snapshot)));
            assertFalse(
                    refresher.trySnapshot(2, WeightsSnapshot.ofHost(snapshot)),
                    "a second refresh is skipped while one runs");
            refresher.awaitReady();
            var report = refresher.publishIfReady(3).orElseThrow();
            assertEquals(null, report.error());
            assertEquals(report.version(), retriever.version(), "published atomically to readers");
        }
        Embeddings refreshed = Embeddings.open(kb, KbVersions.requireCurrent(t.kb));
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double worst = 0;
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
                NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(minilm, m)) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession ort = env.createSession(onnx, opts)) {
                for (int i = 0; i < kb.size(); i++) {
                    var p = kb.passage(i);
                    long[] ids = enc.tokenize(
                                    List.of(enc.settings.passagePrefix() + p.title() + " " + p.text()), false, 128)[0];
                    float[] want = onnxMeanPooled(env, ort, ids, enc.settings.normalize());
                    float[] got = refreshed.row(i);
                    for (int j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(want[j] - got[j]));
                }
            }
        }
        assertTrue(worst < 1e-4, "refreshed vectors vs ONNX Runtime: max |diff| " + worst);
        assertTrue(
                maxDiff(refreshed, Embeddings.open(kb, initial)) > 1e-3,
                "refresh differs from the replaced (8-token) encoding");
    }

    private static float[] onnxMeanPooled(OrtEnvironment env, OrtSession ort, long[] ids, boolean normalize)
            throws Exception {
        long[] shape = {1, ids.length};
        long[] ones = new long[ids.length];
        java.util.Arrays.fill(ones, 1);
        Map<String, OnnxTensor> in = new java.util.HashMap<>();
        try {
            in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
            in.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(ones), shape));
            if (ort.getInputNames().contains("token_type_ids"))
                in.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape));
            try (OrtSession.Result r = ort.run(in)) {
                float[][][] h = (float[][][]) r.get(0).getValue();
                int d = h[0][0].length;
                float[] out = new float[d];
                for (float[] tok : h[0]) for (int j = 0; j < d; j++) out[j] += tok[j] / ids.length;
                if (normalize) {
                    double n = 0;
                    for (float v : out) n += v * v;
                    n = Math.sqrt(n);
                    for (int j = 0; j < d; j++) out[j] /= (float) n;
                }
                return out;
            }
        } finally {
            for (OnnxTensor x : in.values()) x.close();
        }
    }

    @Test
    void killedDuringRefreshResumesFromTheLastCompleteState() throws Exception {
        TinyRag t = TinyRag.create(tmp, 8, 120, 0.0f);
        Path run = tmp.resolve("run");
        List<String> args = new ArrayList<>(List.of(
                "train",
                "--mode",
                "end2end",
                "--indexing-freq",
                "2",
                "--max-steps",
                "40",
                "--checkpoint-every",
                "2",
                "--question-encoder",
                t.encoder.toString(),
                "--generator",
                t.generator.toString(),
                "--kb",
                t.kb.toString(),
                "--train",
                t.squad.toString(),
                "--n-docs",
                "2",
                "--batch-size",
                "4",
                "--max-combined-length",
                "96",
                "--lr",
                "1e-3",
                "--eval-questions",
                "0",
                "--log-every",
                "1",
                "--out",
                run.toString()));
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.rage2e.cli.Main"));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile())
                .start();
        Path metrics = run.resolve("metrics.jsonl");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        boolean killedMidRefresh = false;
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (Files.exists(metrics)) {
                String log = Files.readString(metrics);
                int lastStart = log.lastIndexOf("\"refresh_start\"");
                if (lastStart >= 0
                        && Checkpoints.latestOrNull(run) != null
                        && log.indexOf("\"refresh_published\"", lastStart) < 0) {
                    p.destroyForcibly(); // SIGKILL while the background encoder is writing a version
                    killedMidRefresh = true;
                    break;
                }
            }
            Thread.sleep(20);
        }
        p.waitFor(30, TimeUnit.SECONDS);
        assertTrue(
                killedMidRefresh,
                "the child was killed during a refresh: " + Files.readString(tmp.resolve("child.log")));
        TrainerState before = Checkpoints.readState(Checkpoints.resolve(run));
        List<String> resume = new ArrayList<>(
                List.of("train", "--resume", run.toString(), "--max-steps", String.valueOf(before.step + 4)));
        assertEquals(0, dev.rage2e.cli.Main.run(resume.toArray(new String[0])));
        TrainerState after = Checkpoints.readState(Checkpoints.resolve(run));
        assertEquals(before.step + 4, after.step);
        try (Stream<Path> s = Files.list(t.kb)) {
            assertTrue(
                    s.noneMatch(f -> f.getFileName().toString().contains(".tmp")), "no partial KB files after resume");
        }
        try (Stream<Path> s = Files.list(run)) {
            assertTrue(
                    s.noneMatch(f -> f.getFileName().toString().startsWith(".tmp")),
                    "no partial checkpoints after resume");
        }
        Embeddings.open(KnowledgeBase.open(t.kb), KbVersions.requireCurrent(t.kb))
                .verify();
    }

    static float[][] rows(Embeddings e) {
        float[][] out = new float[e.count()][];
        for (int i = 0; i < out.length; i++) out[i] = e.row(i);
        return out;
    }

    static double maxDiff(Embeddings a, Embeddings b) {
        assertEquals(a.count(), b.count());
        double m = 0;
        for (int i = 0; i < a.count(); i++) {
            float[] x = a.row(i), y = b.row(i);
            for (int j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - y[j]));
        }
        return m;
    }
}
