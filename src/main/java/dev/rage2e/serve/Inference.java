package dev.rage2e.serve;

import dev.rage2e.engine.Torch;

/**
 * Per-thread libtorch settings for request threads. Autograd's mode is thread-local in libtorch:
 * serving threads must not record graphs (the shared parameters never require gradients, but a thread
 * that once ran training code could still have grad mode on), and the intra-op thread count is picked
 * up by each thread on first use.
 */
public final class Inference {
    private static volatile int threads;
    private static final ThreadLocal<Integer> APPLIED = new ThreadLocal<>();

    private Inference() {}

    /** Intra-op threads per request (0: libtorch's default); applies to threads from now on. */
    public static void setThreads(int n) {
        if (n < 0) throw new IllegalArgumentException("threads must be >= 0");
        threads = n;
        if (n > 0) {
            ai.djl.engine.Engine.getInstance(); // loads libtorch before its JNI is called
            Torch.setIntraOpThreads(n);
        }
    }

    /** Call at the start of every request, on the thread that runs the model. */
    public static void enter() {
        Torch.setGradEnabled(false);
        int n = threads;
        if (n > 0 && !Integer.valueOf(n).equals(APPLIED.get())) {
            Torch.setIntraOpThreads(n);
            APPLIED.set(n);
        }
    }
}
