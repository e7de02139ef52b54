package dev.rage2e.scaleout.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.scaleout.TestCluster;
import dev.rage2e.util.Json;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The project's spark-submit jar ({@code target/*-spark.jar}) on a standalone Spark cluster of separate processes:
 * a master and a worker started from Spark's own classes, and the job submitted with Spark's {@code SparkSubmit} (what
 * the {@code spark-submit} script runs) as {@code rag kb encode --spark submit}. The cluster's classpath (its
 * {@code SPARK_HOME/jars}) holds Spark and common libraries but neither rag-e2e nor DJL, and the driver and executor
 * extract libtorch into caches of their own: what the job needs beyond Spark comes from the jar, as on a real cluster.
 */
class SparkSubmitIT {
    @TempDir
    Path tmp;

    private final List<Process> started = new ArrayList<>();

    @Test
    void theShadedJarEncodesTheKbOnAStandaloneClusterAsTheLocalEncoderDoes() throws Exception {
        Path jar = Path.of(System.getProperty("rag.sparkJar", "target/missing-spark.jar"));
        assertTrue(Files.isRegularFile(jar), jar + " missing: build it with mvn -f scaleout package");
        Path encoderDir = TestCluster.minilm();
        Path src = TestCluster.oneArticle(Files.createDirectories(tmp.resolve("src")));
        Path kbDir = tmp.resolve("kb");
        KbBuilder.build(List.of(src), kbDir, 100);
        KnowledgeBase kb = KnowledgeBase.open(kbDir);
        String local;
        try (NDManager m = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoderDir, m)) {
            // the command's defaults (batch 32, 256 tokens); not published, so the job's version is the current one
            local = EmbeddingsWriter.encode(
                            kb,
                            enc,
                            EncoderIdentity.ofDirectory(enc),
                            new EmbeddingsWriter.Options(32, 256, 0, 1, null))
                    .version();
        }

        Path home = sparkHome();
        String cp = home.resolve("jars").toString() + File.separator + "*";
        int port = freePort();
        String master = "spark://127.0.0.1:" + port;
        try {
            start(
                    "master",
                    List.of(
                            "org.apache.spark.deploy.master.Master",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            "" + port,
                            "--webui-port",
                            "" + freePort()),
                    cp,
                    home);
            waitForPort(port, 60);
            Path work = Files.createDirectories(tmp.resolve("worker"));
            start(
                    "worker",
                    List.of(
                            "org.apache.spark.deploy.worker.Worker",
                            "--host",
                            "127.0.0.1",
                            "--cores",
                            "2",
                            "--memory",
                            "2g",
                            "--work-dir",
                            work.toString(),
                            "--webui-port",
                            "" + freePort(),
                            master),
                    cp,
                    home);
            String djl = "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch -Drag.precision.force=fp32";
            List<String> submit = new ArrayList<>(List.of(
                    "org.apache.spark.deploy.SparkSubmit",
                    "--master",
                    master,
                    "--deploy-mode",
                    "client",
                    "--class",
                    "dev.rage2e.cli.Main",
                    "--conf",
                    "spark.driver.host=127.0.0.1",
                    "--conf",
                    "spark.ui.enabled=false",
                    "--conf",
                    "spark.executor.memory=1g",
                    "--conf",
                    "spark.executor.extraJavaOptions=" + djl + " -DENGINE_CACHE_DIR=" + tmp.resolve("executor-cache"),
                    jar.toString(),
                    "kb",
                    "encode",
                    "--kb",
                    kbDir.toString(),
                    "--encoder",
                    encoderDir.toString(),
                    "--spark",
                    "submit",
                    "--spark-shards",
                    "2"));
            List<String> driverOpts = new ArrayList<>(List.of(djl.split(" ")));
            driverOpts.add("-DENGINE_CACHE_DIR=" + tmp.resolve("driver-cache"));
            Path out = tmp.resolve("submit.out");
            Process p = launch(driverOpts, submit, cp, home, out);
            assertTrue(p.waitFor(240, TimeUnit.SECONDS), "spark-submit still running after 240 s: " + tail(out));
            assertEquals(0, p.exitValue(), "spark-submit failed: " + tail(out));

            // the command's one JSON line: a new version, published, every passage encoded
            JsonNode result = Files.readAllLines(out).stream()
                    .filter(l -> l.startsWith("{\"version\""))
                    .map(l -> {
                        try {
                            return Json.MAPPER.readTree(l);
                        } catch (IOException e) {
                            throw new IllegalStateException(e);
                        }
                    })
                    .reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("no result line: " + tail(out)));
            assertEquals(kb.size(), result.path("passages_encoded").asInt());
            assertTrue(result.path("published").asBoolean());
            String version = result.path("version").asText();
            assertEquals(version, KbVersions.current(kbDir).orElse(null));
            assertFalse(version.equals(local));
            Embeddings a = Embeddings.open(kb, local), b = Embeddings.open(kb, version);
            b.verify();
            double maxDiff = TestCluster.maxRowDiff(a, b);
            assertTrue(maxDiff <= 1e-5, "max |diff| " + maxDiff);

            // the rows came from an executor process the worker launched with Spark's classpath only,
            // which unpacked libtorch from the jar it was sent
            String executorCp = executorClasspath(work);
            assertTrue(executorCp.contains(home.resolve("jars").toString()), "executor classpath: " + executorCp);
            assertFalse(
                    executorCp.contains("rag-e2e") || executorCp.contains("/ai/djl/"),
                    "executor classpath: " + executorCp);
            assertTrue(
                    Files.isDirectory(tmp.resolve("executor-cache").resolve("pytorch")),
                    "no libtorch extracted for the executor: " + tmp.resolve("executor-cache"));
        } finally {
            for (Process p : started) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * A Spark home as an installation has one: {@code jars/} with Spark and its libraries, here every jar of this
     * test's classpath except the project's own and DJL's (the job must bring those).
     */
    private Path sparkHome() throws IOException {
        Path home = tmp.resolve("spark-home");
        Path jars = Files.createDirectories(home.resolve("jars"));
        int n = 0;
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(e);
            String s = p.toAbsolutePath().toString();
            if (!s.endsWith(".jar") || !Files.isRegularFile(p)) continue; // target/classes, target/test-classes
            if (s.contains("/dev/rage2e/") || s.contains("/ai/djl/") || s.contains("rag-e2e")) continue;
            Files.createSymbolicLink(jars.resolve(n++ + "-" + p.getFileName()), p.toAbsolutePath());
        }
        assertTrue(n > 50, "Spark's jars not found on the test classpath (" + n + ")");
        return home;
    }

    private void start(String name, List<String> args, String cp, Path home) throws IOException {
        launch(List.of(), args, cp, home, tmp.resolve(name + ".out"));
    }

    private Process launch(List<String> jvmOpts, List<String> args, String cp, Path home, Path out) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx1g");
        cmd.addAll(SPARK_JAVA17_OPENS);
        cmd.addAll(jvmOpts);
        cmd.add("-cp");
        cmd.add(cp);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process p = pb.start();
        started.add(p);
        return p;
    }

    /** The -cp of the executor the worker launched (its stderr's first line: {@code Spark Executor Command: ...}). */
    private static String executorClasspath(Path work) throws IOException {
        try (Stream<Path> files = Files.walk(work)) {
            for (Path f : files.filter(f -> f.getFileName().toString().equals("stderr"))
                    .toList())
                for (String l : Files.readAllLines(f)) {
                    if (!l.contains("Spark Executor Command")) continue;
                    int i = l.indexOf("\"-cp\" \"");
                    assertTrue(i >= 0, "no -cp in " + l);
                    int from = i + "\"-cp\" \"".length();
                    return l.substring(from, l.indexOf('"', from));
                }
        }
        throw new AssertionError("no executor launched under " + work);
    }

    private static void waitForPort(int port, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(200);
            }
        }
        throw new AssertionError("Spark master not listening on " + port + " after " + seconds + " s");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static String tail(Path f) {
        try {
            List<String> l = Files.readAllLines(f);
            return String.join("\n", l.subList(Math.max(0, l.size() - 40), l.size()));
        } catch (IOException e) {
            return "(" + f + " unreadable: " + e.getMessage() + ")";
        }
    }

    /** What Spark 4 needs on Java 17: the module opens this JVM was started with (the pom's spark.java17.opens). */
    private static final List<String> SPARK_JAVA17_OPENS =
            java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                    .filter(o -> o.startsWith("--add-opens=") || o.startsWith("-Djdk.reflect.useDirectMethodHandle="))
                    .toList();
}
