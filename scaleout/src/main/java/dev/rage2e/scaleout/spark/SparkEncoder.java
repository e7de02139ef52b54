package dev.rage2e.scaleout.spark;

import dev.rage2e.engine.Precision;
import dev.rage2e.kb.DistributedEncoder;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * KB encoding as a Spark job: one task per shard of passage ids, each encoding its rows on an executor
 * into the KB's shard folder (the files of {@code rag kb encode --shard i/n}); the driver merges the
 * complete set into one new version, exactly once, after every task has succeeded. A retried or
 * speculative task rewrites its own shard atomically, so duplicates are harmless. Executors read the KB
 * and the encoder snapshot from the same path as the driver (a shared file system).
 */
public final class SparkEncoder implements DistributedEncoder {
    /** The master value meaning "the one spark-submit was given" ({@code --spark submit}). */
    public static final String SUBMIT = "submit";

    private final JavaSparkContext sc;
    private final boolean ownsContext;
    private final int shards;
    private final PrintStream log;

    /**
     * Starts (or joins) a Spark context on {@code master}; {@code shards} 0 means the context's default parallelism.
     */
    public static SparkEncoder start(String master, int shards, PrintStream log) throws IOException {
        if (SUBMIT.equals(master)) {
            // spark-submit passes its --master (and every --conf) to the driver as spark.* system properties
            master = System.getProperty("spark.master");
            if (master == null)
                throw new UserException("--spark " + SUBMIT + ": no spark.master set; run the jar with spark-submit "
                        + "(README, 'Scaling out') or give the master, e.g. --spark spark://HOST:7077");
        }
        checkReachable(master);
        SparkConf conf = new SparkConf()
                .setIfMissing("spark.app.name", "rag-e2e KB encoding")
                .setIfMissing("spark.master", master)
                .setIfMissing("spark.ui.enabled", "false")
                // a task is one whole shard: retry it elsewhere rather than run it twice at once
                .setIfMissing("spark.speculation", "false");
        if (!conf.get("spark.master").equals(master)) {
            throw new UserException("--spark-master " + master + " but spark.master is " + conf.get("spark.master")
                    + " (from spark-submit?)");
        }
        return new SparkEncoder(new JavaSparkContext(conf), true, shards, log);
    }

    /** Uses a context the caller owns (spark-submit's, a test's); it is not stopped on close. */
    public static SparkEncoder using(JavaSparkContext sc, int shards, PrintStream log) {
        return new SparkEncoder(sc, false, shards, log);
    }

    private SparkEncoder(JavaSparkContext sc, boolean ownsContext, int shards, PrintStream log) {
        if (shards < 0) throw new UserException("--refresh-shards must be >= 0, got " + shards);
        this.sc = sc;
        this.ownsContext = ownsContext;
        this.shards = shards;
        this.log = log;
    }

    int shards() {
        return shards > 0 ? shards : Math.max(2, sc.defaultParallelism());
    }

    @Override
    public EmbeddingsWriter.Result encode(
            KnowledgeBase kb, Path encoderDir, EncoderIdentity identity, EmbeddingsWriter.Options opt)
            throws IOException {
        int n = Math.min(shards(), Math.max(1, kb.size()));
        if (n < 2) n = 2; // the shard files need n >= 2; a one-passage KB gets an empty shard
        EmbeddingsWriter.Options sharded = new EmbeddingsWriter.Options(opt.batch(), opt.maxLen(), 0, n, null);
        Path shardDir = EmbeddingsWriter.shardDir(kb, identity, sharded);
        AtomicFiles.deleteTree(shardDir); // a set an interrupted job left: its rows may come from a killed task
        ShardTask task = new ShardTask(
                kb.dir(), encoderDir, identity, n, opt, Precision.current().used());
        long t0 = System.nanoTime();
        List<ShardTask.Done> done;
        try {
            done = sc.parallelize(IntStream.range(0, n).boxed().toList(), n)
                    .map(task)
                    .collect();
        } catch (Exception e) { // SparkException is checked but undeclared (thrown from Scala)
            AtomicFiles.deleteTree(shardDir);
            throw new IOException(
                    "Spark encoding of " + kb.dir() + " failed: " + rootMessage(e) + "; the "
                            + "published version is unchanged",
                    e);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String version = EmbeddingsWriter.mergeIfComplete(kb, shardDir, n);
        if (version == null)
            throw new IOException(
                    shardDir + ": Spark reported " + done.size() + " shards done but the set is incomplete");
        int passages = done.stream().mapToInt(ShardTask.Done::passages).sum();
        if (log != null) {
            long hosts = done.stream().map(ShardTask.Done::host).distinct().count();
            log.printf(
                    "rag: spark encoded %d passages in %d shards on %d host(s) in %.1f s (%.1f passages/s) -> "
                            + "%s%n",
                    passages, n, hosts, seconds, passages / Math.max(1e-9, seconds), version);
        }
        return new EmbeddingsWriter.Result(version, passages, seconds, null);
    }

    @Override
    public String describe() {
        return "Spark " + sc.version() + " at " + sc.master() + " (" + shards() + " shards per encoding)";
    }

    @Override
    public void close() {
        if (ownsContext) sc.stop();
    }

    /**
     * spark://host:port masters are probed first, so an unreachable one is a one-line error, not a minute of retries.
     */
    static void checkReachable(String master) {
        if (master == null || master.isBlank()) throw new UserException("--spark-master is empty");
        if (!master.startsWith("spark://")) return; // local[N], yarn, k8s://...: Spark's own checks
        for (String hostPort : master.substring("spark://".length()).split(",")) {
            URI u = URI.create("spark://" + hostPort);
            if (u.getHost() == null || u.getPort() < 0)
                throw new UserException("--spark-master " + master + ": expected spark://HOST:PORT");
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 5000);
                return;
            } catch (IOException e) {
                if (!master.contains(",")) {
                    throw new UserException("--spark-master " + master + ": cannot connect (" + e.getMessage() + ")");
                }
            }
        }
        throw new UserException("--spark-master " + master + ": no master reachable");
    }

    private static String rootMessage(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null && c.getCause() != c) c = c.getCause();
        String m = c.getMessage();
        return (m == null ? c.getClass().getSimpleName() : m)
                .lines()
                .findFirst()
                .orElse("");
    }

    /** Registered in META-INF/services: {@code --refresh spark} and {@code rag kb encode --spark} find it by name. */
    public static final class Provider implements DistributedEncoder.Provider {
        @Override
        public String name() {
            return "spark";
        }

        @Override
        public DistributedEncoder open(String master, int shards) throws IOException {
            return start(master, shards, System.err);
        }
    }
}
