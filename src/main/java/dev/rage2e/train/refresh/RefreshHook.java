package dev.rage2e.train.refresh;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.train.Trainer;
import java.io.IOException;
import java.util.List;

/**
 * Wires a {@link KbRefresher} into the training loop: between two optimizer steps it publishes a
 * finished refresh (so every step sees one consistent index) and, every {@code indexingFreq} steps,
 * hands a copy of the context encoder's weights to the refresher. The only time training spends here
 * is the weight copy and the pointer swap; both are logged as {@code training_wait_s}.
 */
public final class RefreshHook implements Trainer.StepHook {
    private final KbRefresher refresher;
    private final int indexingFreq;
    private final List<String> probeQuestions;

    public RefreshHook(KbRefresher refresher, int indexingFreq, List<String> probeQuestions) {
        this.refresher = refresher;
        this.indexingFreq = indexingFreq;
        this.probeQuestions = probeQuestions;
    }

    @Override
    public void afterStep(int step, Trainer t) throws IOException {
        long t0 = System.nanoTime();
        var published = refresher.publishIfReady(step);
        long t1 = System.nanoTime();
        published.ifPresent(r -> {
            if (r.version() != null) t.state().lastPublishedStep = step;
            ObjectNode o = t.metrics().event("training_wait");
            o.put("step", step);
            o.put("what", "publish");
            o.put("training_wait_s", (t1 - t0) / 1e9);
            t.metrics().write(o);
        });
        // while the retriever warms up the context encoder has not changed: nothing to re-encode
        if (step % indexingFreq == 0 && step < t.totalSteps() && t.retrieverTrains(step - 1)) {
            long s0 = System.nanoTime();
            var weights = t.model().contextEncoder.params.toHost();
            boolean started = refresher.trySnapshot(step, weights);
            if (started) t.state().lastRefreshStartStep = step;
            ObjectNode o = t.metrics().event("training_wait");
            o.put("step", step);
            o.put("what", started ? "snapshot" : "skipped");
            o.put("training_wait_s", (System.nanoTime() - s0) / 1e9);
            t.metrics().write(o);
        }
    }

    /** Probe question vectors with the current question encoder (for the top-k change metric). */
    public static float[][] probeVectors(Trainer t, NDManager m, List<String> questions) {
        try (NDManager sub = m.newSubManager()) {
            NDArray q = t.model().embedQuestions(sub, questions, false);
            float[] flat = q.toFloatArray();
            int d = (int) q.getShape().get(1);
            float[][] out = new float[questions.size()][d];
            for (int i = 0; i < out.length; i++) System.arraycopy(flat, i * d, out[i], 0, d);
            return out;
        }
    }

    public List<String> probeQuestions() {
        return probeQuestions;
    }
}
