package dev.rage2e.train.refresh;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.rage2e.model.ParamStore;
import dev.rage2e.weights.HostTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The context encoder's weights as they were after one step, for a refresh. Taking it costs the
 * training thread nothing: the weights are only written by the next optimizer update, so the copy
 * (inside libtorch, into a preallocated {@link Arena} whose pages are already touched) runs on the
 * refresher's thread during the next step's forward and backward passes, and the trainer only waits,
 * before that update, for a copy that has not finished ({@link #awaitCopied}). Whichever thread gets
 * there first does the copy. The host tensors the refresher's encoder and a checkpoint need are made
 * from the copy later ({@link #host}), after which the arena is free for the next snapshot.
 */
public final class WeightsSnapshot implements AutoCloseable {
    private final ParamStore source;
    private final Arena arena;
    private final AtomicBoolean claimed = new AtomicBoolean();
    private final CountDownLatch copied = new CountDownLatch(1);
    private Map<String, NDArray> arrays; // the arena's arrays once copied
    private Map<String, HostTensor> host;

    /** Reusable destination arrays for snapshots of one model (one snapshot at a time). */
    public static final class Arena implements AutoCloseable {
        private final NDManager manager = NDManager.newBaseManager();
        private final Map<String, NDArray> arrays = new LinkedHashMap<>();
        private final AtomicBoolean busy = new AtomicBoolean();

        public Arena(ParamStore params) {
            params.tensors().forEach((k, v) -> arrays.put(k, manager.zeros(v.getShape(), v.getDataType())));
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    private WeightsSnapshot(ParamStore source, Arena arena, Map<String, HostTensor> host) {
        this.source = source;
        this.arena = arena;
        this.host = host;
        if (host != null) {
            claimed.set(true);
            copied.countDown();
        }
    }

    /**
     * A snapshot of {@code params} as they are now, to be copied before their next update (see {@link #awaitCopied}).
     */
    public static WeightsSnapshot of(ParamStore params, Arena arena) {
        return new WeightsSnapshot(params, arena, null);
    }

    /** Clones every tensor now, on the calling thread. */
    public static WeightsSnapshot copyOf(ParamStore params) {
        WeightsSnapshot s = new WeightsSnapshot(params, null, null);
        s.copy();
        return s;
    }

    /** Weights already on the host (tests, a resumed run's saved snapshot). */
    public static WeightsSnapshot ofHost(Map<String, HostTensor> host) {
        return new WeightsSnapshot(null, null, host);
    }

    /** Copies the weights unless another thread has (or is doing it); returns when the copy is complete. */
    public void copy() {
        if (!claimed.compareAndSet(false, true)) {
            awaitLatch();
            return;
        }
        try {
            Map<String, NDArray> out = new LinkedHashMap<>();
            if (arena != null && arena.busy.compareAndSet(false, true)) {
                for (Map.Entry<String, NDArray> e : source.tensors().entrySet()) {
                    NDArray dst = arena.arrays.get(e.getKey());
                    // a detached view: the copy is no part of any graph
                    try (NDArray src = e.getValue().stopGradient()) {
                        dst.set(new NDIndex("..."), src); // libtorch copy_ into the preallocated array
                    }
                    out.put(e.getKey(), dst);
                }
            } else {
                NDManager m = NDManager.newBaseManager(); // no arena (or it is still in use): fresh clones
                for (Map.Entry<String, NDArray> e : source.tensors().entrySet()) {
                    NDArray c = e.getValue().duplicate();
                    c.attach(m);
                    NDArray d = c.stopGradient();
                    c.close();
                    out.put(e.getKey(), d);
                }
                ownManager = m;
            }
            arrays = out;
        } finally {
            copied.countDown();
        }
    }

    private NDManager ownManager;

    /** For the trainer, before it updates the weights: completes the copy (normally long done elsewhere). */
    public void awaitCopied() {
        copy();
    }

    private void awaitLatch() {
        try {
            copied.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a weight snapshot", e);
        }
    }

    /** The weights as host tensors by {@code ParamStore.toHost()} names; computed once. */
    public synchronized Map<String, HostTensor> host() {
        if (host == null) {
            copy();
            Map<String, HostTensor> h = new LinkedHashMap<>();
            arrays.forEach((k, v) -> h.put(k, ParamStore.toHost(v)));
            host = h;
            release();
        }
        return host;
    }

    private void release() {
        arrays = null;
        if (ownManager != null) ownManager.close();
        ownManager = null;
        if (arena != null) arena.busy.set(false);
    }

    @Override
    public synchronized void close() {
        if (claimed.get()) {
            awaitLatch();
            if (arrays != null) release();
        } else {
            claimed.set(true); // never copied: nothing to free
            copied.countDown();
        }
    }
}
