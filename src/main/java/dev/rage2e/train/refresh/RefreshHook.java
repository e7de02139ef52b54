package dev.rage2e.train.refresh;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.Trainer;
import dev.rage2e.train.TrainerState;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Wires a {@link KbRefresher} into the training loop. Between two optimizer steps it publishes a
 * finished refresh (so every step sees one consistent index) and, every {@code indexingFreq} steps,
 * hands a copy of the context encoder's weights to the refresher. With a publish lag L a refresh
 * started after step s is published exactly after step s+L (waiting there if it is not built yet),
 * which makes the whole run a function of the seed. A checkpoint written while a refresh runs records
 * its start step and, if that was an earlier step, its weights, so {@link #resume} restarts it
 * unchanged. At the end, {@link #finish} re-encodes the KB with the final weights. What the training
 * thread spends here (weight copy, waiting for a lagged refresh, pointer swap) is logged as
 * {@code training_wait} events.
 */
public final class RefreshHook implements Trainer.StepHook, Trainer.CheckpointListener {
    public static final String SNAPSHOT_FILE = "refresh_snapshot.safetensors";

    private final KbRefresher refresher;
    private final Trainer trainer;
    private final int indexingFreq;
    private final int publishLag;
    private final boolean finalRefresh;
    private final List<String> probeQuestions;
    private WeightsSnapshot.Arena arena;
    private WeightsSnapshot copyPending; // a snapshot whose copy the next weight update must wait for

    /**
     * Before a weight update: the last snapshot's copy must be complete
     * (normally the refresher did it during the step).
     */
    public void beforeUpdate() {
        WeightsSnapshot w = copyPending;
        if (w == null) return;
        copyPending = null;
        long t0 = System.nanoTime();
        w.awaitCopied();
        long ns = System.nanoTime() - t0;
        if (ns > 1_000_000) logWait(trainer, trainer.state().step, "snapshot_copy", ns, 0);
    }

    public RefreshHook(
            KbRefresher refresher,
            Trainer trainer,
            int indexingFreq,
            int publishLag,
            boolean finalRefresh,
            List<String> probeQuestions) {
        this.refresher = refresher;
        this.trainer = trainer;
        this.indexingFreq = indexingFreq;
        this.publishLag = publishLag;
        this.finalRefresh = finalRefresh;
        this.probeQuestions = probeQuestions;
        // the snapshot's destination arrays, allocated (and first touched) now rather than inside the first training
        // step that snapshots: the first snapshot waited 32 ms for them, the later ones 0.5 ms (SQuAD-KB, MiniLM)
        arena = new WeightsSnapshot.Arena(trainer.model().contextEncoder.params);
    }

    @Override
    public void afterStep(int step, Trainer t) throws IOException {
        TrainerState st = t.state();
        if (publishLag > 0) {
            if (refresher.running() && step >= st.pendingRefreshStartStep + publishLag)
                publishWaiting(step, t, "publish");
        } else {
            refresher.publishIfReady(step).ifPresent(r -> published(r, step, t, "publish", 0));
        }
        // while the retriever warms up the context encoder has not changed: nothing to re-encode
        if (step % indexingFreq == 0 && step < t.totalSteps() && t.retrieverTrains(step - 1)) {
            if (refresher.running()) {
                ObjectNode o = t.metrics().event("refresh_skipped");
                o.put("step", step);
                o.put("reason", "previous refresh still running (started at step " + st.pendingRefreshStartStep + ")");
                t.metrics().write(o);
                return;
            }
            snapshot(step, t);
        }
    }

    private void snapshot(int step, Trainer t) {
        snapshot(step, t, false);
    }

    /** {@code alone}: nothing trains meanwhile (the final refresh), so the refresher may use every core. */
    private void snapshot(int step, Trainer t, boolean alone) {
        long s0 = System.nanoTime();
        // copied by the refresher before the next update
        WeightsSnapshot w = WeightsSnapshot.of(t.model().contextEncoder.params, arena);
        boolean started = alone ? refresher.trySnapshotAlone(step, w) : refresher.trySnapshot(step, w);
        if (started) copyPending = w;
        if (started) {
            t.state().lastRefreshStartStep = step;
            t.state().pendingRefreshStartStep = step;
        }
        logWait(t, step, started ? "snapshot" : "skipped", System.nanoTime() - s0, 0);
    }

    /** Waits for the running refresh to be built, then publishes it. */
    private void publishWaiting(int step, Trainer t, String what) {
        long w0 = System.nanoTime();
        try {
            refresher.awaitReady();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a refresh", e);
        }
        long w1 = System.nanoTime();
        refresher.publishIfReady(step).ifPresent(r -> published(r, step, t, what, w1 - w0));
    }

    /** Logs the swap itself (the metrics line about it is bookkeeping every step also pays for its train event). */
    private void published(KbRefresher.Report r, int step, Trainer t, String what, long readyWaitNs) {
        if (r.version() != null) t.state().lastPublishedStep = step;
        t.state().pendingRefreshStartStep = -1;
        logWait(t, step, what, (long) (r.swapSeconds() * 1e9), readyWaitNs);
    }

    private static void logWait(Trainer t, int step, String what, long ns, long readyWaitNs) {
        ObjectNode o = t.metrics().event("training_wait");
        o.put("step", step);
        o.put("what", what);
        o.put("training_wait_s", ns / 1e9);
        // with a publish lag: how long the step waited for a refresh that was not built yet (not a swap cost)
        if (readyWaitNs > 0) o.put("refresh_not_ready_wait_s", readyWaitNs / 1e9);
        t.metrics().write(o);
    }

    /**
     * End of training, before the final checkpoint: re-encode the KB with the final context encoder and
     * publish it, so the final checkpoint, its evaluation and serving use embeddings of that encoder. A
     * refresh still running is superseded. Without the final refresh, a running one is waited for and
     * published.
     */
    public void finish(Trainer t) throws IOException {
        int step = t.state().step;
        boolean trained = t.retrieverTrains(step - 1);
        try {
            if (!finalRefresh || !trained) {
                if (refresher.running()) publishWaiting(step, t, "final_publish");
                return;
            }
            if (refresher.running()) {
                refresher.cancel();
                t.state().pendingRefreshStartStep = -1;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        ObjectNode o = t.metrics().event("final_refresh");
        o.put("step", step);
        t.metrics().write(o);
        snapshot(step, t, true);
        publishWaiting(step, t, "final_publish");
    }

    /** Restarts the refresh a checkpoint says was running (same start step, same weights). */
    public void resume(Path checkpoint, Trainer t) {
        int s = t.state().pendingRefreshStartStep;
        if (s < 0) return;
        WeightsSnapshot w;
        if (s == t.state().step) {
            w = WeightsSnapshot.copyOf(t.model().contextEncoder.params); // before any update: copied here
        } else {
            Path f = checkpoint.resolve(SNAPSHOT_FILE);
            if (!Files.isRegularFile(f)) {
                throw new UserException(
                        f + ": missing (the checkpoint says a refresh started at step " + s + " was running)");
            }
            w = WeightsSnapshot.ofHost(Safetensors.read(f));
        }
        t.state().pendingRefreshStartStep = -1;
        if (refresher.trySnapshot(s, w)) t.state().pendingRefreshStartStep = s;
        ObjectNode o = t.metrics().event("refresh_resumed");
        o.put("step", t.state().step);
        o.put("start_step", s);
        t.metrics().write(o);
    }

    @Override
    public void writeExtras(Path tmp) throws IOException {
        var f = refresher.inFlight();
        // the weights of a refresh started before this step are no longer the model's: save them for resume
        if (f.isPresent() && f.get().startStep() != trainer.state().step) {
            Map<String, HostTensor> host = f.get().weights().host();
            Safetensors.write(
                    tmp.resolve(SNAPSHOT_FILE),
                    host,
                    Map.of("format", "pt", "start_step", String.valueOf(f.get().startStep())));
        }
    }

    @Override
    public void saved(Path checkpoint) {}

    /** Frees the snapshot arena (after the refresher is closed). */
    public void close() {
        if (arena != null) arena.close();
        arena = null;
    }

    /** Probe question vectors with the current question encoder (for the top-k change metric). */
    public static float[][] probeVectors(Trainer t, NDManager m, List<String> questions) {
        try (NDManager sub = m.newSubManager()) {
            return dev.rage2e.rag.RagModel.toRows(t.model().embedQuestions(sub, questions, false));
        }
    }

    public List<String> probeQuestions() {
        return probeQuestions;
    }
}
