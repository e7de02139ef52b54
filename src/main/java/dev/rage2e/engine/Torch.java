package dev.rage2e.engine;

import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;

/**
 * The libtorch settings the project changes, in one place (DJL exposes them on its JNI class): intra-op threads,
 * which are per calling thread (OpenMP) and start at 1 in a JVM thread, grad mode, and the profiler.
 */
public final class Torch {
    private Torch() {}

    /** Intra-op threads of the calling thread's libtorch pool. */
    public static int intraOpThreads() {
        return JniUtils.getNumThreads();
    }

    /** Sets the calling thread's intra-op threads; 0 or less means one per available core. */
    public static void setIntraOpThreads(int n) {
        JniUtils.setNumThreads(n > 0 ? n : Runtime.getRuntime().availableProcessors());
    }

    /** Autograd recording on the calling thread (off for inference-only threads). */
    public static void setGradEnabled(boolean on) {
        JniUtils.setGradMode(on);
    }

    /** Starts libtorch's profiler (CPU, with input shapes). */
    public static void startProfile() {
        JniUtils.startProfile(false, true, false);
    }

    /** Stops the profiler and writes its Chrome trace. */
    public static void stopProfile(Path trace) {
        JniUtils.stopProfile(trace.toAbsolutePath().toString());
    }
}
