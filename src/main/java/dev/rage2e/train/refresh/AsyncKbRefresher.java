package dev.rage2e.train.refresh;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.train.MetricsLog;
import dev.rage2e.weights.HostTensor;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The single-machine refresher: one background thread with its own intra-op thread budget re-encodes
 * the KB with a weight snapshot and builds the index while training continues; the finished version
 * waits in {@code ready} until the trainer publishes it between two steps. The refresher never touches
 * the training model's arrays: it builds its own encoder from the copied weights.
 */
public final class AsyncKbRefresher implements KbRefresher {
    private final IndexBuilder builder;
    private final Function<Map<String, HostTensor>, EncoderModel> encoderFactory;
    private final MetricsLog metrics;
    private final int threads;
    private final float[][] probeQueries;
    private final int probeK;
    private final ExecutorService worker;
    private final AtomicBoolean running = new AtomicBoolean();
    private final AtomicReference<Pending> ready = new AtomicReference<>();
    private volatile int started;

    private record Pending(IndexBuilder.Built built, int startStep, double probeChange, String error) {}

    /**
     * @param probeQueries fixed question vectors whose top-k overlap before/after each swap is logged (may be null)
     */
    public AsyncKbRefresher(IndexBuilder builder, Function<Map<String, HostTensor>, EncoderModel> encoderFactory, MetricsLog metrics,
            int threads, float[][] probeQueries, int probeK) {
        this.builder = builder;
        this.encoderFactory = encoderFactory;
        this.metrics = metrics;
        this.threads = threads;
        this.probeQueries = probeQueries;
        this.probeK = probeK;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kb-refresher");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public boolean trySnapshot(int step, Map<String, HostTensor> weights) {
        if (!running.compareAndSet(false, true)) {
            ObjectNode o = metrics.event("refresh_skipped");
            o.put("step", step);
            o.put("reason", "previous refresh still running (started at step " + started + ")");
            metrics.write(o);
            return false;
        }
        started = step;
        ObjectNode o = metrics.event("refresh_start");
        o.put("step", step);
        metrics.write(o);
        worker.submit(() -> runRefresh(step, weights));
        return true;
    }

    private void runRefresh(int step, Map<String, HostTensor> weights) {
        if (threads > 0) JniUtils.setNumThreads(threads);
        JniUtils.setGradMode(false); // inference only on this thread
        String label = "context-encoder@step-" + step;
        try (EncoderModel enc = encoderFactory.apply(weights)) {
            IndexBuilder.Built built = builder.build(enc, label);
            double change = Double.NaN;
            if (probeQueries != null && probeQueries.length > 0) {
                change = topKChange(builder.search(builder.current(), probeQueries, probeK),
                        builder.search(built.version(), probeQueries, probeK));
            }
            ready.set(new Pending(built, step, change, null));
        } catch (Throwable t) {
            ready.set(new Pending(null, step, Double.NaN, t.toString()));
            running.set(false);
        }
    }

    @Override
    public Optional<Report> publishIfReady(int step) {
        Pending p = ready.getAndSet(null);
        if (p == null) return Optional.empty();
        try {
            if (p.error() != null) {
                ObjectNode o = metrics.event("refresh_failed");
                o.put("step", step);
                o.put("start_step", p.startStep());
                o.put("error", p.error());
                metrics.write(o);
                return Optional.of(new Report(null, p.startStep(), step, 0, 0, 0, 0, Double.NaN, p.error()));
            }
            long t0 = System.nanoTime();
            builder.publish(p.built().version());
            IndexBuilder.Built b = p.built();
            Report r = new Report(b.version(), p.startStep(), step, b.encodeSeconds(), b.indexSeconds(), b.passages(),
                    b.passages() / Math.max(1e-9, b.encodeSeconds()), p.probeChange(), null);
            ObjectNode o = metrics.event("refresh_published");
            o.put("step", step);
            o.put("version", b.version());
            o.put("start_step", p.startStep());
            o.put("steps_trained_during_refresh", step - p.startStep());
            o.put("encode_s", b.encodeSeconds());
            o.put("index_s", b.indexSeconds());
            o.put("passages", b.passages());
            o.put("passages_per_s", r.passagesPerSecond());
            o.put("publish_s", (System.nanoTime() - t0) / 1e9);
            if (!Double.isNaN(p.probeChange())) o.put("probe_topk_changed_fraction", p.probeChange());
            metrics.write(o);
            return Optional.of(r);
        } catch (java.io.IOException e) {
            ObjectNode o = metrics.event("refresh_failed");
            o.put("step", step);
            o.put("error", "publish: " + e);
            metrics.write(o);
            return Optional.of(new Report(null, p.startStep(), step, 0, 0, 0, 0, Double.NaN, e.toString()));
        } finally {
            running.set(false);
        }
    }

    @Override
    public boolean running() {
        return running.get();
    }

    @Override
    public void awaitIdle() throws InterruptedException {
        while (running.get() && ready.get() == null) Thread.sleep(20);
    }

    /** Fraction of probe top-k entries that are new after the swap (0 = same sets, 1 = disjoint). */
    static double topKChange(int[][] before, int[][] after) {
        long changed = 0, total = 0;
        for (int i = 0; i < before.length; i++) {
            Set<Integer> b = new HashSet<>();
            for (int id : before[i]) b.add(id);
            for (int id : after[i]) {
                if (!b.contains(id)) changed++;
                total++;
            }
        }
        return total == 0 ? 0 : (double) changed / total;
    }

    @Override
    public void close() {
        worker.shutdownNow();
        try {
            worker.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Pending p = ready.getAndSet(null);
        if (p != null && p.built() != null) {
            try {
                builder.discard(p.built().version());
            } catch (java.io.IOException ignored) {
                // an unpublished version is also removed by the next start's cleanup
            }
        }
    }
}
