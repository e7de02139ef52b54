package dev.rage2e.scaleout.solr;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.HnswIndex;
import dev.rage2e.index.RemoteIndex;
import dev.rage2e.index.VectorIndex;
import dev.rage2e.kb.Embeddings;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.SolrServerException;
import org.apache.solr.client.solrj.impl.CloudHttp2SolrClient;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.client.solrj.request.ConfigSetAdminRequest;
import org.apache.solr.client.solrj.request.schema.SchemaRequest;
import org.apache.solr.common.SolrInputDocument;

/**
 * SolrCloud as the KB's vector index: one collection per embeddings version ({@code ALIAS_emb-NNNNN}),
 * documents = passage id + vector in a {@code DenseVectorField} (HNSW, maximum inner product), searched
 * with the {@code knn} query parser. Publishing a version points the alias {@code rag-KB-SHA8} at its
 * collection (CREATEALIAS is atomic on the cluster); the collection published before stays for readers
 * that resolved the alias just before the swap, older ones are deleted. Target: a Solr base URL, e.g.
 * {@code http://host:8983/solr} (several, comma-separated).
 */
public final class SolrEngine implements RemoteIndex.Engine {
    static final int SHARDS = Integer.getInteger("rag.solr.shards", 2);
    static final int REPLICAS = Integer.getInteger("rag.solr.replicas", 1);
    private static final int BATCH = 500;
    private static final Map<String, SolrClient> CLIENTS = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "solr";
    }

    /** One client per target for the process (thread-safe, holds the cluster state). */
    static SolrClient client(String target) {
        return CLIENTS.computeIfAbsent(target, t -> new CloudHttp2SolrClient.Builder(List.of(t.split(","))).build());
    }

    /** The alias all readers of this KB query: {@code rag-NAME-SHA8} (KB folder name and passages checksum). */
    static String alias(Embeddings emb) {
        String kbName = emb.dir()
                .getParent()
                .getFileName()
                .toString()
                .toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9]+", "-");
        kbName = kbName.replaceAll("^-+|-+$", "");
        if (kbName.isEmpty()) kbName = "kb";
        return "rag-" + kbName + "-"
                + emb.meta().path("kb_passages_sha256").asText("00000000").substring(0, 8);
    }

    /**
     * {@code ALIAS_emb-NNNNN_HASH8}: the version and the first 8 hex digits of its vectors' sha256. A KB rebuilt under
     * the same folder name from the same passages has the same alias and numbers its versions from emb-00001 again;
     * with another encoder its vectors differ, and so must its collection (a name without the hash once served the
     * old vectors for the new version: it looked complete).
     */
    static String collection(Embeddings emb) {
        String sha = emb.meta().path("sha256").asText("");
        return alias(emb) + "_" + emb.version() + (sha.length() >= 8 ? "_" + sha.substring(0, 8) : "");
    }

    @Override
    public ObjectNode build(Embeddings emb, String target, HnswIndex.Params params) throws IOException {
        SolrClient c = client(target);
        String coll = collection(emb);
        long t0 = System.nanoTime();
        call(target, () -> {
            if (collections(c).contains(coll)) {
                requireDim(c, coll, emb.dim(), emb.dir());
                // published already: complete
                if (coll.equals(aliased(c, alias(emb))) && count(c, coll) == emb.count()) return null;
                CollectionAdminRequest.deleteCollection(coll).process(c); // a half-indexed earlier attempt: start over
            }
            String config = configSet(c, emb.dim(), params);
            CollectionAdminRequest.Create create =
                    CollectionAdminRequest.createCollection(coll, config, SHARDS, REPLICAS);
            create.setWaitForFinalState(true);
            create.process(c);
            List<SolrInputDocument> docs = new ArrayList<>(BATCH);
            for (int i = 0; i < emb.count(); i++) {
                float[] v = emb.row(i);
                List<Float> vec = new ArrayList<>(v.length);
                for (float x : v) vec.add(x);
                SolrInputDocument d = new SolrInputDocument();
                d.addField("id", Integer.toString(i));
                d.addField("passage", i);
                d.addField("vector", vec);
                docs.add(d);
                if (docs.size() == BATCH || i == emb.count() - 1) {
                    c.add(coll, docs);
                    docs.clear();
                }
            }
            c.commit(coll, true, true);
            long found = count(c, coll);
            if (found != emb.count())
                throw new IOException(
                        "solr collection " + coll + " holds " + found + " documents after indexing " + emb.count());
            return null;
        });
        ObjectNode meta = Json.MAPPER.createObjectNode();
        meta.put("type", "solr");
        meta.put("target", target);
        meta.put("collection", coll);
        meta.put("alias", alias(emb));
        meta.put("shards", SHARDS);
        meta.put("replicas", REPLICAS);
        meta.put("count", emb.count());
        meta.put("dim", emb.dim());
        meta.put("m", params.m());
        meta.put("ef_construction", params.efConstruction());
        meta.put("embeddings_version", emb.version());
        meta.put("build_seconds", Math.round((System.nanoTime() - t0) / 1e6) / 1000.0);
        meta.put("created", Instant.now().toString());
        return meta;
    }

    @Override
    public VectorIndex open(Embeddings emb, String target) throws IOException {
        SolrClient c = client(target);
        String coll = collection(emb);
        call(target, () -> {
            if (!collections(c).contains(coll)) {
                throw new UserException("solr " + target + ": no collection " + coll + " (run rag index build "
                        + "--type solr:" + target + ")");
            }
            requireDim(c, coll, emb.dim(), emb.dir());
            return null;
        });
        return new SolrVectorIndex(c, coll, emb, 100);
    }

    @Override
    public void publish(Embeddings emb, String target, boolean deleteOlder) throws IOException {
        SolrClient c = client(target);
        String alias = alias(emb), coll = collection(emb);
        call(target, () -> {
            String previous = aliased(c, alias);
            // atomic: a search resolves to the old or the new collection
            CollectionAdminRequest.createAlias(alias, coll).process(c);
            if (!deleteOlder) return null;
            // keep the new and the previous collection (searches that resolved the alias just before the swap) and any
            // newer build not yet published; versions older than both are read by no one any more
            long keepFrom = Math.min(versionNumber(coll), previous == null ? Long.MAX_VALUE : versionNumber(previous));
            for (String other : collections(c)) {
                if (other.startsWith(alias + "_") && versionNumber(other) < keepFrom)
                    CollectionAdminRequest.deleteCollection(other).process(c);
            }
            return null;
        });
    }

    @Override
    public void delete(Embeddings emb, String target) throws IOException {
        SolrClient c = client(target);
        String coll = collection(emb);
        call(target, () -> {
            String current = aliased(c, alias(emb));
            if (coll.equals(current))
                throw new UserException(
                        "solr collection " + coll + " is what alias " + alias(emb) + " points at; not deleting it");
            if (collections(c).contains(coll))
                CollectionAdminRequest.deleteCollection(coll).process(c);
            return null;
        });
    }

    /** NNNNN of an {@code ALIAS_emb-NNNNN[_HASH8]} collection (Long.MAX_VALUE for another name: never deleted as old). */
    static long versionNumber(String collection) {
        int i = collection.lastIndexOf("_emb-");
        if (i < 0) return Long.MAX_VALUE;
        int from = i + 5, to = from;
        while (to < collection.length() && Character.isDigit(collection.charAt(to))) to++;
        if (to == from || (to < collection.length() && collection.charAt(to) != '_')) return Long.MAX_VALUE;
        try {
            return Long.parseLong(collection.substring(from, to));
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    static long count(SolrClient c, String coll) throws IOException, SolrServerException {
        return c.query(coll, new org.apache.solr.client.solrj.SolrQuery("*:*").setRows(0))
                .getResults()
                .getNumFound();
    }

    /** The collection the KB's alias points at (null when none). */
    static String aliased(SolrClient c, String alias) throws IOException, SolrServerException {
        return new CollectionAdminRequest.ListAliases().process(c).getAliases().get(alias);
    }

    static List<String> collections(SolrClient c) throws IOException, SolrServerException {
        return CollectionAdminRequest.listCollections(c);
    }

    /** A collection of another vector dimension is someone else's: refuse it (nothing is changed). */
    static void requireDim(SolrClient c, String coll, int want, Path embeddingsDir)
            throws IOException, SolrServerException {
        int d = dim(c, coll);
        if (d != want) {
            throw new UserException("solr collection " + coll + " holds " + d + "-dim "
                    + "vectors, " + embeddingsDir + " has " + want
                    + " (delete the collection or use another KB folder)");
        }
    }

    static int dim(SolrClient c, String coll) throws IOException, SolrServerException {
        Object d = new SchemaRequest.FieldType("knn_vector")
                .process(c, coll)
                .getFieldType()
                .getAttributes()
                .get("vectorDimension");
        return Integer.parseInt(String.valueOf(d));
    }

    /** Uploads the configset for this dimension and graph shape once ({@code rag-e2e-dDIM-mM-efE}). */
    static String configSet(SolrClient c, int dim, HnswIndex.Params p) throws IOException, SolrServerException {
        String name = "rag-e2e-d" + dim + "-m" + p.m() + "-ef" + p.efConstruction();
        if (new ConfigSetAdminRequest.List().process(c).getConfigSets().contains(name)) return name;
        Path zip = Files.createTempFile("rag-e2e-configset", ".zip");
        try {
            try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(zip))) {
                for (String f : List.of("solrconfig.xml", "schema.xml")) {
                    String text = resource(f)
                            .replace("@DIM@", Integer.toString(dim))
                            .replace("@M@", Integer.toString(p.m()))
                            .replace("@EF_CONSTRUCTION@", Integer.toString(p.efConstruction()));
                    z.putNextEntry(new ZipEntry(f));
                    z.write(text.getBytes(StandardCharsets.UTF_8));
                    z.closeEntry();
                }
            }
            new ConfigSetAdminRequest.Upload()
                    .setConfigSetName(name)
                    .setUploadFile(zip.toFile(), "application/zip")
                    .process(c);
        } finally {
            Files.deleteIfExists(zip);
        }
        return name;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = SolrEngine.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    interface SolrCall<T> {
        T run() throws IOException, SolrServerException;
    }

    /** Cluster errors as one line naming the target; nothing already published changes on failure. */
    static <T> T call(String target, SolrCall<T> body) throws IOException {
        try {
            return body.run();
        } catch (SolrServerException | RuntimeException e) {
            if (e instanceof UserException u) throw u;
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            String m = root.getMessage() == null
                    ? root.getClass().getSimpleName()
                    : root.getMessage().lines().findFirst().orElse("");
            throw new UserException("solr " + target + ": " + m);
        }
    }
}
