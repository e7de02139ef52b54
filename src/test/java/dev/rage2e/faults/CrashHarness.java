package dev.rage2e.faults;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.Indexes;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.train.Checkpoints;
import dev.rage2e.train.TrainerState;
import dev.rage2e.util.Json;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs {@code rag train} as a child JVM and SIGKILLs it at chosen points (found by watching the run
 * folder, the KB folder and metrics.jsonl), then checks that what survived is complete and consistent
 * and that {@code --resume} carries on. One harness drives one run through any number of kills.
 *
 * <p>Kill points: {@link Point#STEP} (a step is computing), {@link Point#CHECKPOINT_WRITE} (a
 * {@code .tmp-checkpoint-*} folder exists), {@link Point#KB_ENCODE} (a {@code .emb.tmp-*} folder exists
 * in the KB), {@link Point#INDEX_BUILD} (an {@code .index-hnsw.tmp-*} folder exists inside a version),
 * {@link Point#UNPUBLISHED} (a committed version newer than {@code current} is waiting to be published),
 * {@link Point#TIME} (a fixed delay after the child started: loading, cleanup, anything),
 * {@link Point#REFRESH_RUNNING} (a checkpoint was written after a refresh started and before it was
 * published, so resume must restart it from saved weights), {@link Point#PUBLISHED} (a refresh was
 * published after the latest checkpoint: between publish and checkpoint).
 */
public final class CrashHarness {
    public enum Point {
        STEP,
        CHECKPOINT_WRITE,
        KB_ENCODE,
        INDEX_BUILD,
        UNPUBLISHED,
        TIME,
        REFRESH_RUNNING,
        PUBLISHED
    }

    /** One kill attempt: whether the point was reached (and the child killed) and what the checks found. */
    public record Kill(Point point, boolean killed, int checkpointStepBefore, String problem, double seconds) {
        public boolean survived() {
            return killed && problem == null;
        }
    }

    private final Path run;
    private final Path kb;
    private final List<String> firstArgs;
    private final String indexType;
    private final Path logs;
    private final List<Kill> kills = new ArrayList<>();
    private int launches;

    /**
     * @param firstArgs the {@code train ...} arguments of the first launch (with {@code --out run}); later
     *     launches use {@code train --resume run}
     */
    public CrashHarness(Path run, Path kb, String indexType, List<String> firstArgs, Path logs) {
        this.run = run;
        this.kb = kb;
        this.indexType = indexType;
        this.firstArgs = List.copyOf(firstArgs);
        this.logs = logs;
    }

    public List<Kill> kills() {
        return kills;
    }

    /** The usual child command line: this JVM's java and class path, offline DJL, a heap cap. */
    public static List<String> javaCommand() {
        return new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.rage2e.cli.Main"));
    }

    private Process launch() throws IOException {
        List<String> cmd = javaCommand();
        // resume from the last complete checkpoint; before the first one exists, start the run again
        if (Checkpoints.latestOrNull(run) != null) cmd.addAll(List.of("train", "--resume", run.toString()));
        else cmd.addAll(firstArgs);
        Files.createDirectories(logs);
        Path log = logs.resolve("child-" + (launches++) + ".log");
        return new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    /**
     * Starts (or resumes) the run, waits until {@code point} is reached (for TIME: {@code delayMs} after
     * start; for STEP: {@code delayMs} after the next train event), kills it, and checks the survivors.
     * Returns with killed=false when the child finished before the point came.
     */
    public Kill killAt(Point point, long delayMs, long timeoutMs) throws Exception {
        int before = checkpointStep();
        double launchedAt = System.currentTimeMillis() / 1000.0;
        long t0 = System.nanoTime();
        Process p = launch();
        long deadline = t0 + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        boolean hit = false;
        while (System.nanoTime() < deadline && p.isAlive()) {
            hit = switch (point) {
                case TIME -> System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(delayMs);
                case STEP -> lastTrainEventTime() >= launchedAt;
                case CHECKPOINT_WRITE -> hasChild(run, n -> n.startsWith(".tmp-checkpoint-"));
                case KB_ENCODE -> hasChild(kb, n -> n.startsWith(".emb.tmp-"));
                case INDEX_BUILD ->
                    versionDirs().stream()
                            .anyMatch(v -> hasChild(v, n -> n.startsWith("." + Indexes.HNSW_DIR + ".tmp-")));
                case UNPUBLISHED -> newestCommittedIsUnpublished();
                case REFRESH_RUNNING -> refreshRunningAcrossCheckpoint();
                case PUBLISHED -> publishedAfterCheckpoint();
            };
            if (hit) break;
            Thread.sleep(point == Point.TIME || point == Point.STEP ? 5 : 2);
            // these re-read metrics.jsonl
            if (point == Point.REFRESH_RUNNING || point == Point.PUBLISHED) Thread.sleep(3);
        }
        if (hit && point == Point.STEP && delayMs > 0) Thread.sleep(delayMs);
        boolean killed = hit && p.isAlive();
        if (killed) p.destroyForcibly(); // SIGKILL: no shutdown hooks, no finally blocks
        if (!p.waitFor(60, TimeUnit.SECONDS)) throw new IllegalStateException("child did not die");
        String problem = null;
        if (!killed && p.exitValue() != 0)
            problem = "child exited " + p.exitValue() + " before the kill point:\n" + lastLog();
        if (problem == null) problem = checkSurvivors(before);
        Kill k = new Kill(point, killed, before, problem, (System.nanoTime() - t0) / 1e9);
        kills.add(k);
        return k;
    }

    /** The last lines of the latest child's output (for failure messages). */
    public String lastLog() {
        try {
            List<String> lines = Files.readAllLines(logs.resolve("child-" + (launches - 1) + ".log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 25), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Resumes to the end; returns the child's exit code. */
    public int finish(long timeoutMs) throws Exception {
        Process p = launch();
        if (!p.waitFor(timeoutMs, TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            return -1;
        }
        return p.exitValue();
    }

    /**
     * What must hold after any kill: the latest checkpoint (if any) is complete and not older than the one
     * before the kill, its tensors files parse, and the KB's current version verifies (checksum, count =
     * passages, index present). Null when all holds, else the first problem.
     */
    public String checkSurvivors(int checkpointStepBefore) {
        try {
            Path cp = Checkpoints.latestOrNull(run);
            if (cp == null) {
                if (checkpointStepBefore >= 0) return "the latest checkpoint vanished";
            } else {
                TrainerState s = Checkpoints.readState(cp);
                if (!cp.getFileName().toString().equals(Checkpoints.name(s.step)))
                    return cp + ": state says step " + s.step;
                if (s.step < checkpointStepBefore)
                    return "latest checkpoint went back from " + checkpointStepBefore + " to " + s.step;
                for (String sub : List.of("question_encoder", "context_encoder", "generator")) {
                    Path f = cp.resolve(sub).resolve("model.safetensors");
                    if (Files.exists(cp.resolve(sub)) || !sub.equals("context_encoder")) Safetensors.read(f);
                }
                Safetensors.read(cp.resolve(Checkpoints.OPTIMIZER));
                if (s.embeddingsVersion != null && !Files.isDirectory(kb.resolve(s.embeddingsVersion))) {
                    return cp + ": embeddings version " + s.embeddingsVersion + " it trained with is gone";
                }
            }
            return checkKb();
        } catch (Exception e) {
            return e.toString();
        }
    }

    /** The KB's published version is complete: checksum, one row per passage, its index present. */
    public String checkKb() throws IOException {
        KnowledgeBase k = KnowledgeBase.open(kb);
        String cur = KbVersions.requireCurrent(kb);
        Embeddings e = Embeddings.open(k, cur);
        e.verify();
        if (e.count() != k.size()) return cur + ": " + e.count() + " rows for " + k.size() + " passages";
        if (indexType.equals("hnsw") && !Indexes.hasHnsw(e)) return cur + ": published without its HNSW index";
        return null;
    }

    /** Names containing ".tmp" (or ".trash") anywhere under the run folder and the KB. */
    public List<Path> leftovers() throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path root : List.of(run, kb)) {
            try (Stream<Path> s = Files.walk(root)) {
                s.filter(f -> {
                            String n = f.getFileName().toString();
                            return n.contains(".tmp") || n.startsWith(".trash");
                        })
                        .forEach(out::add);
            }
        }
        return out;
    }

    /** step -> loss of the run's metrics.jsonl train events (later lines win). */
    public TreeMap<Integer, Double> losses() throws IOException {
        return losses(run.resolve("metrics.jsonl"));
    }

    public static TreeMap<Integer, Double> losses(Path metrics) throws IOException {
        TreeMap<Integer, Double> out = new TreeMap<>();
        for (JsonNode e : events(metrics)) {
            if (e.path("event").asText().equals("train"))
                out.put(e.get("step").asInt(), e.get("loss").asDouble());
        }
        return out;
    }

    /** Versions of the refresh_published events of a metrics file, in order. */
    public static List<String> publishedAt(Path metrics) throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode e : events(metrics))
            if (e.path("event").asText().equals("refresh_published"))
                out.add(e.get("step") + ":" + e.get("version").asText());
        return out;
    }

    /** Train events in order, duplicates included (a resumed run must not repeat a step in its log). */
    public List<Integer> trainEvents() throws IOException {
        List<Integer> steps = new ArrayList<>();
        for (JsonNode e : events(run.resolve("metrics.jsonl")))
            if (e.path("event").asText().equals("train"))
                steps.add(e.get("step").asInt());
        return steps;
    }

    private double lastTrainEventTime() {
        try {
            double t = 0;
            for (JsonNode e : events(run.resolve("metrics.jsonl")))
                if (e.path("event").asText().equals("train")) t = e.get("time").asDouble();
            return t;
        } catch (IOException e) {
            return 0;
        }
    }

    static List<JsonNode> events(Path metrics) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(metrics)) return out;
        for (String line : Files.readAllLines(metrics)) {
            try {
                out.add(Json.MAPPER.readTree(line));
            } catch (IOException torn) {
                // the line being written when the child died
            }
        }
        return out;
    }

    private int checkpointStep() {
        Path cp = Checkpoints.latestOrNull(run);
        return cp == null ? -1 : Checkpoints.readState(cp).step;
    }

    private List<Path> versionDirs() {
        try (Stream<Path> s = Files.list(kb)) {
            return s.filter(v -> KbVersions.isVersionName(v.getFileName().toString()))
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The last refresh_start precedes the latest checkpoint and nothing was published after it. */
    private boolean refreshRunningAcrossCheckpoint() {
        try {
            int start = -1, cp = -1;
            for (JsonNode e : events(run.resolve("metrics.jsonl"))) {
                switch (e.path("event").asText()) {
                    case "refresh_start" -> start = e.get("step").asInt();
                    case "refresh_published", "refresh_failed" -> start = -1;
                    case "checkpoint" -> cp = e.get("step").asInt();
                    default -> {}
                }
            }
            return start >= 0 && cp > start;
        } catch (IOException e) {
            return false;
        }
    }

    /** A refresh was published after the latest checkpoint. */
    private boolean publishedAfterCheckpoint() {
        try {
            int pub = -1, cp = -1;
            for (JsonNode e : events(run.resolve("metrics.jsonl"))) {
                switch (e.path("event").asText()) {
                    case "refresh_published" -> pub = e.get("step").asInt();
                    case "checkpoint" -> cp = e.get("step").asInt();
                    default -> {}
                }
            }
            return pub > cp && cp >= 0;
        } catch (IOException e) {
            return false;
        }
    }

    private boolean newestCommittedIsUnpublished() {
        try {
            List<String> vs = KbVersions.list(kb);
            Optional<String> cur = KbVersions.current(kb);
            return !vs.isEmpty() && cur.isPresent() && vs.get(vs.size() - 1).compareTo(cur.get()) > 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static boolean hasChild(Path dir, java.util.function.Predicate<String> name) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(f -> name.test(f.getFileName().toString()));
        } catch (IOException e) {
            return false;
        }
    }

    /** A JSON summary of the kills so far. */
    public ObjectNode summary() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("kill_points_tried", kills.stream().filter(Kill::killed).count());
        o.put("kill_points_survived", kills.stream().filter(Kill::survived).count());
        o.put("not_reached", kills.stream().filter(k -> !k.killed()).count());
        ObjectNode byPoint = o.putObject("by_point");
        for (Kill k : kills) {
            ObjectNode b = byPoint.has(k.point().name())
                    ? (ObjectNode) byPoint.get(k.point().name())
                    : byPoint.putObject(k.point().name());
            b.put("tried", b.path("tried").asInt() + (k.killed() ? 1 : 0));
            b.put("survived", b.path("survived").asInt() + (k.survived() ? 1 : 0));
        }
        ArrayNode problems = o.putArray("problems");
        for (Kill k : kills) if (k.problem() != null) problems.add(k.point() + ": " + k.problem());
        return o;
    }
}
