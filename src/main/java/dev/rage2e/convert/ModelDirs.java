package dev.rage2e.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.model.BertConfig;
import dev.rage2e.model.EncoderSettings;
import dev.rage2e.util.AtomicFiles;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import dev.rage2e.weights.HostTensor;
import dev.rage2e.weights.Safetensors;
import dev.rage2e.weights.TokenizerJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;

/**
 * Model directories in HF layout, written all-or-nothing: everything goes into a hidden temporary
 * sibling which is renamed into place only when complete, so an interrupted import leaves either
 * the previous model or none, never a half-written one.
 */
public final class ModelDirs {
    private ModelDirs() {}

    /** The default models root: $RAG_MODELS, else {@code <rag.home>/models}, else ./models. */
    public static Path defaultRoot() {
        String env = System.getenv("RAG_MODELS");
        if (env != null && !env.isBlank()) return Path.of(env);
        String home = System.getProperty("rag.home");
        return home != null ? Path.of(home, "models") : Path.of("models");
    }

    /** Writes config.json, model.safetensors, tokenizer.json and rag-e2e.json for a converted BERT. */
    public static void write(ConvertedBert m, EncoderSettings settings, Path out, boolean force) throws IOException {
        install(out, force, tmp -> {
            Safetensors.write(
                    tmp.resolve("model.safetensors"), m.tensors(), Map.of("format", "pt", "source", m.source()));
            Json.writeFile(tmp.resolve("config.json"), m.config().toJson());
            AtomicFiles.writeString(tmp.resolve("tokenizer.json"), m.tokenizerJson());
            writeSettings(tmp, settings, m.source());
        });
    }

    /**
     * Copies an HF-layout BERT directory (config.json, model.safetensors, tokenizer.json if present)
     * after checking that every tensor the config implies is there with the right shape. Tensor names
     * may carry a wrapper prefix ("bert.", "question_encoder.bert_model.", ...), as EncoderModel accepts.
     * The source's rag-e2e.json is kept unless {@code settings} is given.
     */
    public static BertConfig importHf(Path src, EncoderSettings settings, Path out, boolean force) throws IOException {
        if (!Files.isDirectory(src))
            throw new UserException(src + ": not a directory (--format hf expects an HF model folder)");
        Path weights = src.resolve("model.safetensors");
        if (!Files.exists(weights)) {
            if (Files.exists(src.resolve("pytorch_model.bin"))) {
                throw new UserException(src + ": pytorch_model.bin (pickle) is not supported; convert it to "
                        + "model.safetensors first "
                        + "(in Python: model.save_pretrained(dir, safe_serialization=True))");
            }
            throw new UserException(src + ": no model.safetensors");
        }
        BertConfig config = BertConfig.load(src.resolve("config.json"));
        Map<String, HostTensor> tensors = Safetensors.read(weights);
        String prefix = tensors.keySet().stream()
                .filter(k -> k.endsWith("embeddings.word_embeddings.weight"))
                .sorted()
                .map(k -> k.substring(0, k.length() - "embeddings.word_embeddings.weight".length()))
                .findFirst()
                .orElseThrow(() -> new UserException(weights + ": missing tensor 'embeddings.word_embeddings.weight'"));
        Map<String, HostTensor> bare = new java.util.LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix)) bare.put(k.substring(prefix.length()), v);
        });
        if (!config.isDecoder())
            BertLayout.check(bare, config, bare.containsKey("pooler.dense.weight"), weights.toString());
        Path tok = src.resolve("tokenizer.json");
        if (Files.exists(tok)) TokenizerJson.parse(Files.readString(tok), tok.toString());
        EncoderSettings effective = settings != null ? settings : EncoderSettings.load(src);
        install(out, force, tmp -> {
            for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json"}) {
                if (Files.exists(src.resolve(f))) Files.copy(src.resolve(f), tmp.resolve(f));
            }
            writeSettings(tmp, effective, "hf:" + src.toAbsolutePath().normalize());
        });
        return config;
    }

    public static void writeSettings(Path dir, EncoderSettings settings, String source) throws IOException {
        ObjectNode s = settings.toJson();
        if (source != null) s.put("source", source);
        Json.writeFile(dir.resolve(EncoderSettings.FILE), s);
    }

    /**
     * Fills a fresh temporary directory with {@code fill}, then renames it to {@code out}. An
     * existing {@code out} is replaced only with {@code force}.
     */
    public static void install(Path out, boolean force, AtomicFiles.IoConsumer<Path> fill) throws IOException {
        Path target = out.toAbsolutePath().normalize();
        if (Files.exists(target) && !force) {
            throw new UserException(out + ": already exists; pass --force to replace it");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
        Files.createDirectory(tmp);
        try {
            fill.accept(tmp);
            AtomicFiles.fsyncDir(tmp);
            if (Files.exists(target)) {
                Path old = parent.resolve("." + target.getFileName() + ".old-" + UUID.randomUUID());
                Files.move(target, old, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                AtomicFiles.deleteTree(old);
            } else {
                Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            AtomicFiles.fsyncDir(parent);
        } catch (IOException | RuntimeException e) {
            AtomicFiles.deleteTree(tmp);
            throw e;
        }
    }
}
