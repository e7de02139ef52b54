package dev.rage2e.util;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The project's one reference-counted swap (what Lucene's {@code ReferenceManager} is there): a published value (a
 * loaded model, an {embeddings version, index} pair) that can be replaced while readers use it. A reader takes a
 * {@link Lease} (reference count + 1) and uses that one value to the end, so it never sees half of an old value and
 * half of a new one. {@link #swap} publishes a new value to later readers; the old one is closed when its last lease
 * is returned, on that reader's thread (or at once when idle), and then the swap's {@code onOldFreed} runs.
 */
public final class Swappable<T extends AutoCloseable> implements AutoCloseable {
    private final String what;
    private final AtomicReference<Entry<T>> current = new AtomicReference<>();
    private final AtomicInteger open = new AtomicInteger();

    private static final class Entry<T extends AutoCloseable> {
        final T value;
        final String what;
        final AtomicInteger refs = new AtomicInteger(1); // the holder's own reference
        final AtomicInteger openCount;
        volatile Consumer<? super T> onFree;

        Entry(T value, String what, AtomicInteger openCount) {
            this.value = value;
            this.what = what;
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
            if (r < 0) throw new IllegalStateException(what + " released too often");
            if (r == 0) {
                openCount.decrementAndGet();
                try {
                    value.close();
                } catch (Exception e) {
                    System.err.println("rag: closing a replaced " + what + " failed: " + e);
                }
                Consumer<? super T> f = onFree;
                if (f != null) f.accept(value);
            }
        }
    }

    /** One reader's hold on the value; close it when done (closing twice is harmless). */
    public static final class Lease<T extends AutoCloseable> implements AutoCloseable {
        private final Entry<T> entry;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(Entry<T> entry) {
            this.entry = entry;
        }

        public T value() {
            return entry.value;
        }

        /** References to this lease's value now (the holder's, while it is published, plus leases); 0 once closed. */
        public int references() {
            return entry.refs.get();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) entry.release();
        }
    }

    /** @param what names the value in messages ("model", "embeddings version") */
    public Swappable(String what) {
        this.what = what;
    }

    public Swappable(String what, T initial) {
        this(what);
        swap(initial);
    }

    public boolean isEmpty() {
        return current.get() == null;
    }

    /** The published value without a lease (to read what it is, not to use it), or null. */
    public T peek() {
        Entry<T> e = current.get();
        return e == null ? null : e.value;
    }

    public Lease<T> acquire() {
        while (true) {
            Entry<T> e = current.get();
            if (e == null) throw new IllegalStateException("no " + what + " published");
            if (e.tryRetain()) return new Lease<>(e);
        }
    }

    /** Publishes {@code next}; the previous value is closed after its last lease. */
    public void swap(T next) {
        swap(next, null);
    }

    /**
     * As {@link #swap(AutoCloseable)}; {@code onOldFreed} (e.g. deleting its files) runs after the old value is closed.
     */
    public void swap(T next, Consumer<? super T> onOldFreed) {
        open.incrementAndGet();
        Entry<T> old = current.getAndSet(new Entry<>(next, what, open));
        if (old != null) {
            old.onFree = onOldFreed;
            old.release();
        }
    }

    /** Values published and not yet closed: 1 when idle, 2 while readers still finish on a replaced one. */
    public int openValues() {
        return open.get();
    }

    @Override
    public void close() {
        Entry<T> old = current.getAndSet(null);
        if (old != null) old.release();
    }
}
