package dev.rage2e.train;

/**
 * Where training stands, saved with each checkpoint: the next optimizer step, the data position
 * (epoch and offset into that epoch's seeded shuffle) and the KB embeddings version in use. Dropout
 * randomness is reseeded from (seed, step) every step, so no generator state needs saving.
 */
public final class TrainerState {
    public int step;
    public int epoch;
    public int position;
    public long seed;
    public String embeddingsVersion;
    public String kb;
    public String mode;
    public String modelType;
    /** Steps at which the last refresh started / was published (end2end). */
    public int lastRefreshStartStep = -1;

    public int lastPublishedStep = -1;
    /**
     * Start step of a refresh that was running when this checkpoint was written (-1: none). Resume
     * restarts it with the same weights: the context encoder when it started at {@link #step}, else the
     * checkpoint's {@code refresh_snapshot.safetensors}.
     */
    public int pendingRefreshStartStep = -1;
    /** Seconds charged to --max-minutes so far, over all runs of this training (evaluation excluded). */
    public double budgetSeconds;

    public double trainSeconds;
    /**
     * Matmul precision (fp32|bf16) of the run that saved this state; the config's --precision decides a resumed run's.
     */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public String savedPrecision;

    @com.fasterxml.jackson.annotation.JsonProperty("precision")
    public String precision() {
        return dev.rage2e.engine.Precision.current().used();
    }

    @com.fasterxml.jackson.annotation.JsonProperty("precision")
    void readPrecision(String p) {
        savedPrecision = p;
    }
}
