package dev.rage2e.kb;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Builds a knowledge base directory from input documents: chunks every document into passages of at
 * most {@code words} words (ids 0..N-1 in input order, so the same inputs always give the same ids),
 * writes the passage store and {@code manifest.json}. Everything is written into a temporary sibling
 * directory that is renamed into place only when complete: a failure leaves no KB behind.
 */
public final class KbBuilder {
    public static final int DEFAULT_WORDS = 100;

    private KbBuilder() {}

    public static ObjectNode build(List<Path> inputs, Path out, int words) throws IOException {
        if (inputs.isEmpty()) throw new UserException("no input files given");
        if (words <= 0) throw new UserException("--words must be positive, got " + words);
        for (Path in : inputs) {
            if (!Files.isRegularFile(in)) throw new UserException(in + ": file not found");
            InputFormat.of(in);
        }
        Path target = out.toAbsolutePath().normalize();
        if (Files.exists(target) && !(Files.isDirectory(target) && isEmptyDir(target))) {
            throw new UserException(out + ": already exists; choose a new --out (a KB's passage ids must never "
                    + "change under its embeddings)");
        }
        Files.createDirectories(target.getParent());
        Path tmp = target.getParent().resolve("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
        Files.createDirectory(tmp);
        try {
            ObjectNode manifest = writeInto(inputs, tmp, words);
            for (Path f : List.of(tmp.resolve(PassageStore.DATA), tmp.resolve(PassageStore.OFFSETS)))
                AtomicFiles.fsync(f);
            Json.writeFile(tmp.resolve(KnowledgeBase.MANIFEST), manifest);
            AtomicFiles.fsyncDir(tmp);
            if (Files.isDirectory(target)) Files.delete(target); // empty, checked above
            AtomicFiles.move(tmp, target);
            AtomicFiles.fsyncDir(target.getParent());
            return manifest;
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }

    private static ObjectNode writeInto(List<Path> inputs, Path dir, int words) throws IOException {
        ObjectNode m = Json.MAPPER.createObjectNode();
        m.put("format", "rag-e2e-kb");
        m.put("format_version", 1);
        m.put("words_per_passage", words);
        ArrayNode sources = Json.MAPPER.createArrayNode();
        long documents = 0;
        long duplicates = 0;
        Set<String> seenSquad = new HashSet<>();
        try (PassageStore.Writer w = new PassageStore.Writer(dir)) {
            for (Path in : inputs) {
                InputFormat fmt = InputFormat.of(in);
                int firstId = w.count();
                long[] docs = {0, 0};
                try {
                    DocumentReaders.read(in, fmt, doc -> {
                        if (fmt == InputFormat.SQUAD
                                && !seenSquad.add(
                                        doc.title() + "\u0000" + String.join(" ", Chunker.words(doc.text())))) {
                            docs[1]++;
                            return;
                        }
                        docs[0]++;
                        try {
                            for (String chunk : Chunker.chunk(doc.text(), words)) w.add(doc.title(), chunk);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                } catch (UncheckedIOException e) {
                    throw e.getCause();
                }
                documents += docs[0];
                duplicates += docs[1];
                ObjectNode s = sources.addObject();
                s.put("path", in.toAbsolutePath().normalize().toString());
                s.put("format", fmt.id());
                s.put("bytes", Files.size(in));
                s.put("sha256", Fingerprint.sha256(in));
                s.put("documents", docs[0]);
                if (fmt == InputFormat.SQUAD) s.put("duplicate_contexts_skipped", docs[1]);
                s.put("first_passage_id", firstId);
                s.put("passages", w.count() - firstId);
            }
            w.close();
            if (w.count() == 0)
                throw new UserException((inputs.size() == 1 ? inputs.get(0).toString() : inputs.toString())
                        + ": no passages (the input holds no documents)");
            m.put("documents", documents);
            m.put("passages", w.count());
            m.put("duplicate_contexts_skipped", duplicates);
            m.put("passages_sha256", w.sha256());
        }
        m.set("sources", sources);
        m.put("created", Instant.now().toString());
        return m;
    }

    private static boolean isEmptyDir(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }
}
