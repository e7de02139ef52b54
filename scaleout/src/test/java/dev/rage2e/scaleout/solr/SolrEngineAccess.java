package dev.rage2e.scaleout.solr;

import dev.rage2e.kb.Embeddings;
import org.apache.solr.client.solrj.SolrClient;

/** Test access to the engine's naming and alias lookup from other test packages. */
public final class SolrEngineAccess {
    private SolrEngineAccess() {}

    public static SolrClient client(String url) {
        return SolrEngine.client(url);
    }

    public static String alias(Embeddings e) {
        return SolrEngine.alias(e);
    }

    public static String collection(Embeddings e) {
        return SolrEngine.collection(e);
    }

    public static String aliased(SolrClient c, String alias) throws Exception {
        return SolrEngine.aliased(c, alias);
    }

    public static java.util.List<String> collections(SolrClient c) throws Exception {
        return SolrEngine.collections(c);
    }
}
