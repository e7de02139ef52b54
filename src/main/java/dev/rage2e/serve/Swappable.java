package dev.rage2e.serve;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A served value (a loaded model) that can be replaced while requests use it. A request takes a
 * {@link Lease} (reference count + 1) and uses that one value to the end, so it never sees half of an
 * old model and half of a new one. {@link #swap} publishes a new value to later requests; the old one
 * is closed when its last lease is returned, on that request's thread (or at once when idle).
 */
public final class Swappable<T extends AutoCloseable> implements AutoCloseable {
    private final AtomicReference<Entry<T>> current = new AtomicReference<>();
    private final AtomicInteger open = new AtomicInteger();

    private static final class Entry<T extends AutoCloseable> {
        final T value;
        final AtomicInteger refs = new AtomicInteger(1); // the holder's own reference
        final AtomicInteger openCount;

        Entry(T value, AtomicInteger openCount) {
            this.value = value;
            this.openCount = openCount;
        }

        boolean tryRetain() {
            while (true) {
                int r = refs.get();
                if (r == 0) return false; // already closed: the caller re-reads the holder
                if (refs.compareAndSet(r, r + 1)) return true;
            }
        }

        void release() {
            int r = refs.decrementAndGet();
            if (r < 0) throw new IllegalStateException("released too often");
            if (r == 0) {
                openCount.decrementAndGet();
                try {
                    value.close();
                } catch (Exception e) {
                    System.err.println("rag serve: closing a replaced model failed: " + e);
                }
            }
        }
    }

    /** One request's hold on the value; close it when the request is done. */
    public static final class Lease<T extends AutoCloseable> implements AutoCloseable {
        private final Entry<T> entry;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(Entry<T> entry) {
            this.entry = entry;
        }

        public T value() {
            return entry.value;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) entry.release();
        }
    }

    public Swappable(T initial) {
        swap(initial);
    }

    public Lease<T> acquire() {
        while (true) {
            Entry<T> e = current.get();
            if (e == null) throw new IllegalStateException("closed");
            if (e.tryRetain()) return new Lease<>(e);
        }
    }

    /** Publishes {@code next}; the previous value is closed after its last lease. */
    public void swap(T next) {
        open.incrementAndGet();
        Entry<T> old = current.getAndSet(new Entry<>(next, open));
        if (old != null) old.release();
    }

    /** Values loaded and not yet closed: 1 when idle, 2 while requests still finish on a replaced one. */
    public int openValues() {
        return open.get();
    }

    @Override
    public void close() {
        Entry<T> old = current.getAndSet(null);
        if (old != null) old.release();
    }
}
