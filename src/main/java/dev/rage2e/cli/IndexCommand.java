package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.Indexes;
import dev.rage2e.index.RemoteIndex;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag index}: MIPS indexes over an embeddings version. */
@Command(
        name = "index",
        mixinStandardHelpOptions = true,
        description = "Build the MIPS index of an embeddings version.",
        subcommands = {IndexCommand.Build.class})
public final class IndexCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(
            name = "build",
            mixinStandardHelpOptions = true,
            description = "flat: exact search, nothing to build (verifies the embeddings' checksum); hnsw: Lucene "
                    + "HNSW graph "
                    + "(maximum inner product) saved inside the embeddings version. Prints the index metadata.")
    static final class Build implements Callable<Integer> {
        @Option(names = "--kb", required = true, description = "Knowledge base directory.")
        Path kb;

        @Option(
                names = "--embeddings-version",
                description = "Embeddings version, e.g. emb-00003 (--version is "
                        + "the program's version) (default: the current one).")
        String version;

        @Option(
                names = "--type",
                defaultValue = "hnsw",
                description = "flat, hnsw, or solr (a SolrCloud "
                        + "collection per embeddings "
                        + "version: --solr URL; the version's collection becomes the KB alias's when it is the current "
                        + "version) (default ${DEFAULT-VALUE}).")
        String type;

        @Option(
                names = "--solr",
                description = "With --type solr: the cluster's base URL, e.g. "
                        + "http://host:8983/solr (default: $RAG_SOLR_URL). "
                        + "Elsewhere pass --index solr:URL.")
        String solr;

        @Option(
                names = "--m",
                defaultValue = "32",
                description = "HNSW max connections per node (default ${DEFAULT-VALUE}).")
        int m;

        @Option(
                names = "--ef-construction",
                defaultValue = "100",
                description = "HNSW beam width while building (default ${DEFAULT-VALUE}).")
        int efConstruction;

        @Option(
                names = "--ef-search",
                defaultValue = "100",
                description = "HNSW candidate list at search time, stored with the index (default ${DEFAULT-VALUE}).")
        int efSearch;

        @Option(names = "--threads", description = "Build threads (default: available processors).")
        Integer threads;

        @Override
        public Integer call() throws Exception {
            KnowledgeBase k = KnowledgeBase.open(kb);
            String v = version != null ? version : KbVersions.requireCurrent(k.dir());
            Embeddings emb = Embeddings.open(k, v);
            int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            String ty = type;
            if (ty.equals("solr")) {
                String u = solr != null ? solr : System.getenv("RAG_SOLR_URL");
                if (u == null || u.isBlank()) throw new UserException("--type solr needs --solr URL (or RAG_SOLR_URL)");
                ty = "solr:" + u;
            }
            ObjectNode meta = Indexes.build(emb, ty, new HnswIndex.Params(m, efConstruction, efSearch, t));
            if (RemoteIndex.isRemote(ty)
                    && KbVersions.current(k.dir()).filter(v::equals).isPresent()) {
                // the cluster's readers follow the KB's current version
                RemoteIndex.engine(ty).publish(emb, RemoteIndex.target(ty), true);
                meta.put("published", true);
            }
            System.out.println(Json.pretty(meta));
            return 0;
        }
    }
}
