package dev.rage2e.index;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.util.ServiceLoader;

/**
 * An index held by a search cluster rather than in the KB folder, named by a type string
 * {@code ENGINE:TARGET} (e.g. {@code solr:http://host:8983/solr}) wherever a local type (flat, hnsw) is
 * accepted. One index per embeddings version; publishing a version also makes it the one the cluster's
 * readers see (e.g. an alias swap). Engines live outside the core jar and are found through
 * {@code META-INF/services/dev.rage2e.index.RemoteIndex$Engine}.
 */
public final class RemoteIndex {
    private RemoteIndex() {}

    /** One search-cluster engine. */
    public interface Engine {
        /** The ENGINE part of the type string. */
        String name();

        /**
         * Indexes every row of {@code emb} on the cluster at {@code target} (not
         * yet what the cluster's readers see); its metadata.
         */
        ObjectNode build(Embeddings emb, String target, HnswIndex.Params params) throws IOException;

        /** Searches the index of exactly this version (so a search never mixes two versions). */
        VectorIndex open(Embeddings emb, String target) throws IOException;

        /**
         * Makes this version's index the one the cluster's readers see (atomic on the cluster). With {@code
         * deleteOlder}, indexes of versions older than both this one and the one it replaces go too; a training run
         * passes false and leaves deletion to its janitor, which keeps every
         * version a checkpoint names (a resumed run searches it).
         */
        void publish(Embeddings emb, String target, boolean deleteOlder) throws IOException;

        /** Removes the index of a version nothing reads any more. */
        void delete(Embeddings emb, String target) throws IOException;
    }

    /** Whether {@code type} names a remote engine (ENGINE:TARGET) rather than flat, hnsw or auto. */
    public static boolean isRemote(String type) {
        return type != null && type.indexOf(':') > 0;
    }

    public static String target(String type) {
        return type.substring(type.indexOf(':') + 1);
    }

    /** The engine a remote type string names, or a one-line error saying what to put on the classpath. */
    public static Engine engine(String type) {
        String name = type.substring(0, type.indexOf(':'));
        for (Engine e : ServiceLoader.load(Engine.class)) if (e.name().equals(name)) return e;
        throw new UserException("index type '" + type + "': no '" + name + "' engine on the classpath (it comes "
                + "with the rag-e2e-scaleout jar; "
                + "README, 'Scaling out')");
    }
}
