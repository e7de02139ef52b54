package dev.rage2e.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * Runs concurrent single requests together: request threads {@link #submit} an input and block; each of
 * {@code workers} batch threads takes whatever is waiting (up to {@code maxBatch}) and computes it in one
 * call. Nothing waits for a batch to fill: a lone request runs at once as a batch of one, and requests
 * that arrive while a batch computes form the next one, so batches grow exactly as fast as load does.
 * If a batch fails, its inputs are retried one by one, so one bad input only fails its own request.
 */
public final class MicroBatcher<I, O> implements AutoCloseable {
    private record Pending<I, O>(I input, CompletableFuture<O> result) {}

    private final LinkedBlockingQueue<Pending<I, O>> queue = new LinkedBlockingQueue<>();
    private final Function<List<I>, List<O>> batchFn;
    private final int maxBatch;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicLong batches = new java.util.concurrent.atomic.AtomicLong(),
            items = new java.util.concurrent.atomic.AtomicLong();

    /** {@code batchFn} returns one output per input, in order; it runs on the batch threads only. */
    public MicroBatcher(String name, int workers, int maxBatch, Function<List<I>, List<O>> batchFn) {
        if (workers < 1 || maxBatch < 1) throw new IllegalArgumentException("workers and maxBatch must be >= 1");
        this.batchFn = batchFn;
        this.maxBatch = maxBatch;
        for (int w = 0; w < workers; w++) {
            Thread t = new Thread(this::loop, name + "-" + w);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    public int maxBatch() {
        return maxBatch;
    }

    /** A backend's health fields: {@code batch} (1 without a batcher) and, once a batch ran, {@code mean_batch}. */
    public static void describe(com.fasterxml.jackson.databind.node.ObjectNode h, MicroBatcher<?, ?> b) {
        h.put("batch", b == null ? 1 : b.maxBatch());
        if (b != null && !Double.isNaN(b.meanBatch())) h.put("mean_batch", Math.round(b.meanBatch() * 100) / 100.0);
    }

    /** Mean inputs per batch so far (NaN before the first). */
    public double meanBatch() {
        long b = batches.get();
        return b == 0 ? Double.NaN : (double) items.get() / b;
    }

    /**
     * Computes {@code input} in the next batch; rethrows the batch function's unchecked exception. An interrupted
     * wait keeps the thread's interrupt flag and throws {@link IllegalStateException}.
     */
    public O submit(I input) {
        if (closed) throw new IllegalStateException("batcher closed");
        CompletableFuture<O> f = new CompletableFuture<>();
        queue.add(new Pending<>(input, f));
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the question's batch", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }

    private void loop() {
        List<Pending<I, O>> batch = new ArrayList<>(maxBatch);
        while (!closed) {
            try {
                batch.clear();
                batch.add(queue.take());
                queue.drainTo(batch, maxBatch - 1);
            } catch (InterruptedException e) {
                return;
            }
            Inference.enter();
            run(batch);
        }
    }

    private void run(List<Pending<I, O>> batch) {
        List<I> inputs = new ArrayList<>(batch.size());
        for (Pending<I, O> p : batch) inputs.add(p.input());
        try {
            List<O> out = batchFn.apply(inputs);
            if (out.size() != batch.size())
                throw new IllegalStateException("batch function returned " + out.size() + " for " + batch.size());
            batches.incrementAndGet();
            items.addAndGet(batch.size());
            for (int i = 0; i < batch.size(); i++) batch.get(i).result().complete(out.get(i));
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.get(0).result().completeExceptionally(e);
                return;
            }
            for (Pending<I, O> p : batch) run(new ArrayList<>(List.of(p))); // isolate the failing input
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) t.interrupt();
        for (Pending<I, O> p; (p = queue.poll()) != null; )
            p.result().completeExceptionally(new IllegalStateException("server closing"));
    }
}
