package dev.rage2e.train.refresh;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.engine.Torch;
import dev.rage2e.index.IndexBuilder;
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
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The single-machine refresher: one background thread with its own intra-op thread budget re-encodes
 * the KB with a weight snapshot, builds the index and opens the new version for reading while
 * training continues; the finished version waits in {@code ready} until the trainer publishes it
 * between two steps, which is then only a reference swap. The refresher never touches the training
 * model's arrays: it builds its own encoder from the copied weights.
 *
 * <p>State: {@code inFlight} is set by {@link #trySnapshot} and cleared by {@link #publishIfReady} /
 * {@link #cancel}, all on the training thread; the worker only fills {@code ready}. (When the worker
 * also cleared the running flag on failure, a refresh started in between could be marked idle and a
 * second one queued behind it, overwriting an unpublished version.)
 */
public final class AsyncKbRefresher implements KbRefresher {
    private final IndexBuilder builder;
    private final Function<Map<String, HostTensor>, EncoderModel> encoderFactory;
    private final MetricsLog metrics;
    private final int threads;
    private final float[][] probeQueries;
    private final int probeK;
    private final IntFunction<String> label;
    private final ExecutorService worker;
    private final Object lock = new Object();
    private volatile InFlight inFlight; // training thread only writes
    private Pending ready; // guarded by lock

    private record Pending(IndexBuilder.Built built, int startStep, double probeChange, String error) {}

    public AsyncKbRefresher(
            IndexBuilder builder,
            Function<Map<String, HostTensor>, EncoderModel> encoderFactory,
            MetricsLog metrics,
            int threads,
            float[][] probeQueries,
            int probeK) {
        this(builder, encoderFactory, metrics, threads, probeQueries, probeK, step -> "context-encoder@step-" + step);
    }

    /**
     * @param probeQueries fixed question vectors whose top-k overlap before/after each swap is logged (may be null)
     * @param label the encoder label recorded in a version's meta.json, by start step
     */
    public AsyncKbRefresher(
            IndexBuilder builder,
            Function<Map<String, HostTensor>, EncoderModel> encoderFactory,
            MetricsLog metrics,
            int threads,
            float[][] probeQueries,
            int probeK,
            IntFunction<String> label) {
        this.builder = builder;
        this.encoderFactory = encoderFactory;
        this.metrics = metrics;
        this.threads = threads;
        this.probeQueries = probeQueries;
        this.probeK = probeK;
        this.label = label;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kb-refresher");
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public boolean trySnapshot(int step, WeightsSnapshot weights) {
        return trySnapshot(step, weights, threads);
    }

    /**
     * All cores: training has ended (measured: the final SQuAD-KB refresh took
     * 247 s on the one thread of --refresh-threads 1).
     */
    @Override
    public boolean trySnapshotAlone(int step, WeightsSnapshot weights) {
        return trySnapshot(step, weights, Runtime.getRuntime().availableProcessors());
    }

    private boolean trySnapshot(int step, WeightsSnapshot weights, int intraOpThreads) {
        InFlight running = inFlight;
        if (running != null) {
            weights.close();
            ObjectNode o = metrics.event("refresh_skipped");
            o.put("step", step);
            o.put("reason", "previous refresh still running (started at step " + running.startStep() + ")");
            metrics.write(o);
            return false;
        }
        inFlight = new InFlight(step, weights);
        ObjectNode o = metrics.event("refresh_start");
        o.put("step", step);
        metrics.write(o);
        worker.submit(() -> runRefresh(step, weights, intraOpThreads));
        return true;
    }

    private void runRefresh(int step, WeightsSnapshot weights, int intraOpThreads) {
        if (intraOpThreads > 0) Torch.setIntraOpThreads(intraOpThreads);
        Torch.setGradEnabled(false); // inference only on this thread
        Pending result;
        weights.copy(); // first: the trainer waits for this copy before its next weight update
        try (EncoderModel enc = encoderFactory.apply(weights.host())) {
            IndexBuilder.Built built = builder.build(enc, label.apply(step));
            double change = Double.NaN;
            if (probeQueries != null && probeQueries.length > 0) {
                change = topKChange(
                        builder.search(builder.current(), probeQueries, probeK),
                        builder.search(built.version(), probeQueries, probeK));
            }
            result = new Pending(built, step, change, null);
            ObjectNode o = metrics.event("refresh_built"); // written from this thread: when the version was ready
            o.put("start_step", step);
            o.put("version", built.version());
            metrics.write(o);
        } catch (Throwable t) {
            result = new Pending(null, step, Double.NaN, t.toString());
        }
        synchronized (lock) {
            ready = result;
            lock.notifyAll();
        }
    }

    private Pending take() {
        synchronized (lock) {
            Pending p = ready;
            ready = null;
            return p;
        }
    }

    @Override
    public Optional<Report> publishIfReady(int step) {
        Pending p = take();
        if (p == null) return Optional.empty();
        InFlight f = inFlight;
        inFlight = null;
        if (f != null) f.weights().close();
        if (p.error() != null) {
            ObjectNode o = metrics.event("refresh_failed");
            o.put("step", step);
            o.put("start_step", p.startStep());
            o.put("error", p.error());
            metrics.write(o);
            return Optional.of(new Report(null, p.startStep(), step, 0, 0, 0, 0, Double.NaN, p.error(), 0));
        }
        try {
            long t0 = System.nanoTime();
            builder.publish(p.built());
            double publishS = (System.nanoTime() - t0) / 1e9;
            IndexBuilder.Built b = p.built();
            Report r = new Report(
                    b.version(),
                    p.startStep(),
                    step,
                    b.encodeSeconds(),
                    b.indexSeconds(),
                    b.passages(),
                    b.passages() / Math.max(1e-9, b.encodeSeconds()),
                    p.probeChange(),
                    null,
                    publishS);
            ObjectNode o = metrics.event("refresh_published");
            o.put("step", step);
            o.put("version", b.version());
            o.put("start_step", p.startStep());
            o.put("steps_trained_during_refresh", step - p.startStep());
            o.put("encode_s", b.encodeSeconds());
            o.put("index_s", b.indexSeconds());
            o.put("passages", b.passages());
            o.put("passages_per_s", r.passagesPerSecond());
            o.put("publish_s", publishS);
            if (!Double.isNaN(p.probeChange())) o.put("probe_topk_changed_fraction", p.probeChange());
            metrics.write(o);
            return Optional.of(r);
        } catch (java.io.IOException | RuntimeException e) {
            ObjectNode o = metrics.event("refresh_failed");
            o.put("step", step);
            o.put("error", "publish: " + e);
            metrics.write(o);
            discardQuietly(p);
            return Optional.of(new Report(null, p.startStep(), step, 0, 0, 0, 0, Double.NaN, e.toString(), 0));
        }
    }

    @Override
    public boolean running() {
        return inFlight != null;
    }

    @Override
    public void awaitReady() throws InterruptedException {
        synchronized (lock) {
            while (inFlight != null && ready == null) lock.wait(50);
        }
    }

    @Override
    public Optional<InFlight> inFlight() {
        return Optional.ofNullable(inFlight);
    }

    @Override
    public void cancel() throws InterruptedException {
        awaitReady();
        Pending p = take();
        InFlight f = inFlight;
        inFlight = null;
        if (f != null) f.weights().close();
        if (p != null) discardQuietly(p);
    }

    private void discardQuietly(Pending p) {
        if (p.built() == null) return;
        try {
            builder.discard(p.built());
        } catch (java.io.IOException | RuntimeException ignored) {
            // an unpublished version is also removed by the next start's cleanup
        }
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
        Pending p = take();
        if (p != null) discardQuietly(p);
        InFlight f = inFlight;
        inFlight = null;
        if (f != null) f.weights().close();
    }
}
