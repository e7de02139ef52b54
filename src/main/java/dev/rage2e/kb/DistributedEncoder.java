package dev.rage2e.kb;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ServiceLoader;

/**
 * Encodes a whole KB somewhere else than this process (e.g. a Spark cluster): every worker reads the KB
 * and a saved encoder from a path they all see, writes its shard of rows (the same files as
 * {@code rag kb encode --shard i/n}), and this process merges the complete set into one new, unpublished
 * embeddings version. Implementations live outside the core jar and are found by name through
 * {@link Provider} ({@code META-INF/services}), so nothing here depends on them.
 */
public interface DistributedEncoder extends AutoCloseable {
    /**
     * Encodes every passage of {@code kb} with the encoder saved in {@code encoderDir} (identity {@code identity},
     * as the local encoder would record it) and merges the shards into a new version; returns it, not published.
     */
    EmbeddingsWriter.Result encode(
            KnowledgeBase kb, Path encoderDir, EncoderIdentity identity, EmbeddingsWriter.Options opt)
            throws IOException;

    /** A one-line description for logs (engine, master, shards). */
    String describe();

    @Override
    void close();

    /**
     * Creates distributed encoders of one engine; registered in {@code
     * META-INF/services/dev.rage2e.kb.DistributedEncoder$Provider}.
     */
    interface Provider {
        /** The engine name users pass, e.g. "spark". */
        String name();

        /**
         * @param master where to run (for Spark: local[N], spark://host:port, yarn, ...)
         * @param shards how many shards (tasks) one encoding is split into; 0: the engine's default parallelism
         */
        DistributedEncoder open(String master, int shards) throws IOException;
    }

    /** The registered engine of this name, or a one-line error saying what to put on the classpath. */
    static DistributedEncoder open(String engine, String master, int shards) throws IOException {
        for (Provider p : ServiceLoader.load(Provider.class))
            if (p.name().equals(engine)) return p.open(master, shards);
        throw new dev.rage2e.util.UserException("no '" + engine + "' encoder on the classpath: it comes with the "
                + "rag-e2e-scaleout jar "
                + "(README, 'Scaling out')");
    }
}
