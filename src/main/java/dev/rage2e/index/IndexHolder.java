package dev.rage2e.index;

import dev.rage2e.kb.Embeddings;
import dev.rage2e.util.Swappable;
import java.util.function.Consumer;

/**
 * The published {embeddings version, index} pair for readers, a {@link Swappable}: a reader takes a {@link Lease}
 * and does all of one search against that snapshot, so it sees either the old or the new version, never a mix. A
 * swapped-out snapshot is closed, and optionally its files deleted, only when its last lease is returned.
 */
public final class IndexHolder implements AutoCloseable {
    private final Swappable<Snapshot> published = new Swappable<>("embeddings version");

    /** An immutable {embeddings, index} pair; closing it closes the index. */
    public static final class Snapshot implements AutoCloseable {
        private final Embeddings embeddings;
        private final VectorIndex index;

        public Snapshot(Embeddings embeddings, VectorIndex index) {
            if (embeddings.count() != index.size() || embeddings.dim() != index.dim()) {
                throw new IllegalArgumentException("index shape " + index.size() + "x" + index.dim() + " does not "
                        + "match embeddings "
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

        @Override
        public void close() {
            index.close();
        }
    }

    /** A reader's hold on one snapshot; close it when the search is done. */
    public static final class Lease implements AutoCloseable {
        private final Swappable.Lease<Snapshot> lease;

        Lease(Swappable.Lease<Snapshot> lease) {
            this.lease = lease;
        }

        public Snapshot snapshot() {
            return lease.value();
        }

        public VectorIndex index() {
            return lease.value().index;
        }

        public Embeddings embeddings() {
            return lease.value().embeddings;
        }

        public String version() {
            return lease.value().version();
        }

        /** References to this snapshot (the holder's while published, plus leases); 0 once freed. */
        public int references() {
            return lease.references();
        }

        @Override
        public void close() {
            lease.close();
        }
    }

    public IndexHolder() {}

    public IndexHolder(Snapshot initial) {
        published.swap(initial);
    }

    public boolean isEmpty() {
        return published.isEmpty();
    }

    /** The version readers currently get, or null. */
    public String version() {
        Snapshot s = published.peek();
        return s == null ? null : s.version();
    }

    public Lease acquire() {
        return new Lease(published.acquire());
    }

    /**
     * Publishes {@code next} to new readers. The previous snapshot is freed when its last reader
     * leaves; {@code onOldFreed} (for example deleting its files) runs then, on that reader's thread.
     */
    public void swap(Snapshot next, Consumer<Snapshot> onOldFreed) {
        published.swap(next, onOldFreed);
    }

    @Override
    public void close() {
        published.close();
    }
}
