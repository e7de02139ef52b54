package dev.rage2e.index;

import dev.rage2e.kb.Embeddings;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The published {embeddings version, index} pair for readers, swapped atomically. A reader takes a
 * {@link Lease} (reference count + 1) and does all of one search against that snapshot, so it sees
 * either the old or the new version, never a mix. A swapped-out snapshot is closed, and optionally its
 * files deleted, only when its last lease is returned.
 */
public final class IndexHolder implements AutoCloseable {
    private final AtomicReference<Snapshot> current = new AtomicReference<>();

    /** An immutable pair plus a reference count; starts with one reference, the holder's. */
    public static final class Snapshot {
        private final Embeddings embeddings;
        private final VectorIndex index;
        private final AtomicInteger refs = new AtomicInteger(1);
        private volatile Consumer<Snapshot> onFree;

        public Snapshot(Embeddings embeddings, VectorIndex index) {
            if (embeddings.count() != index.size() || embeddings.dim() != index.dim()) {
                throw new IllegalArgumentException("index shape " + index.size() + "x" + index.dim() + " does not match embeddings "
                        + embeddings.count() + "x" + embeddings.dim());
            }
            this.embeddings = embeddings;
            this.index = index;
        }

        public String version() {
            return embeddings.version();
        }

        public Embeddings embeddings() {
            return embeddings;
        }

        public VectorIndex index() {
            return index;
        }

        /** Current number of references (holder + leases); 0 once freed. */
        public int references() {
            return refs.get();
        }

        boolean tryRetain() {
            while (true) {
                int r = refs.get();
                if (r == 0) return false; // already freed: the caller re-reads the holder
                if (refs.compareAndSet(r, r + 1)) return true;
            }
        }

        void release() {
            int r = refs.decrementAndGet();
            if (r < 0) throw new IllegalStateException("snapshot released too often");
            if (r == 0) {
                index.close();
                Consumer<Snapshot> f = onFree;
                if (f != null) f.accept(this);
            }
        }
    }

    /** A reader's hold on one snapshot; close it when the search is done. */
    public static final class Lease implements AutoCloseable {
        private final Snapshot snapshot;
        private final AtomicBoolean closed = new AtomicBoolean();

        Lease(Snapshot snapshot) {
            this.snapshot = snapshot;
        }

        public Snapshot snapshot() {
            return snapshot;
        }

        public VectorIndex index() {
            return snapshot.index;
        }

        public Embeddings embeddings() {
            return snapshot.embeddings;
        }

        public String version() {
            return snapshot.version();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) snapshot.release();
        }
    }

    public IndexHolder() {}

    public IndexHolder(Snapshot initial) {
        current.set(initial);
    }

    public boolean isEmpty() {
        return current.get() == null;
    }

    /** The version readers currently get, or null. */
    public String version() {
        Snapshot s = current.get();
        return s == null ? null : s.version();
    }

    public Lease acquire() {
        while (true) {
            Snapshot s = current.get();
            if (s == null) throw new IllegalStateException("no embeddings version published");
            if (s.tryRetain()) return new Lease(s);
        }
    }

    /**
     * Publishes {@code next} to new readers. The previous snapshot is freed when its last reader
     * leaves; {@code onOldFreed} (for example deleting its files) runs then, on that reader's thread.
     */
    public void swap(Snapshot next, Consumer<Snapshot> onOldFreed) {
        Snapshot old = current.getAndSet(next);
        if (old != null) {
            old.onFree = onOldFreed;
            old.release();
        }
    }

    @Override
    public void close() {
        Snapshot old = current.getAndSet(null);
        if (old != null) old.release();
    }
}
