package dev.rage2e.qa;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An experiment split file (see {@code data/splits-squad-kb.json}): {@code kb_files} (documents of the
 * knowledge base) and, per part ({@code train_files}, {@code test_files}), a map from SQuAD file to
 * {@code "all"} or a list of article titles. Paths are relative to the split file's folder.
 */
public final class Split {
    private final Path file;
    private final List<Path> kbFiles;
    private final Map<String, Map<Path, Set<String>>> parts; // part -> file -> articles (null = all)

    private Split(Path file, List<Path> kbFiles, Map<String, Map<Path, Set<String>>> parts) {
        this.file = file;
        this.kbFiles = kbFiles;
        this.parts = parts;
    }

    public static Split load(Path file) {
        JsonNode root = Json.read(file);
        Path base = file.toAbsolutePath().getParent();
        List<Path> kb = new ArrayList<>();
        for (JsonNode f : root.path("kb_files")) kb.add(resolve(file, base, f.asText()));
        Map<String, Map<Path, Set<String>>> parts = new LinkedHashMap<>();
        root.fieldNames().forEachRemaining(name -> {
            if (!name.endsWith("_files") || name.equals("kb_files")) return;
            JsonNode spec = root.get(name);
            if (!spec.isObject())
                throw new UserException(file + ": '" + name + "' must map files to \"all\" or article lists");
            Map<Path, Set<String>> files = new LinkedHashMap<>();
            spec.fieldNames().forEachRemaining(rel -> {
                JsonNode sel = spec.get(rel);
                Set<String> articles;
                if (sel.isTextual() && sel.asText().equals("all")) {
                    articles = null;
                } else if (sel.isArray()) {
                    articles = new LinkedHashSet<>();
                    for (JsonNode t : sel) articles.add(t.asText());
                } else {
                    throw new UserException(
                            file + ": " + name + "." + rel + " must be \"all\" or a list of article titles");
                }
                files.put(resolve(file, base, rel), articles);
            });
            parts.put(name.substring(0, name.length() - "_files".length()), files);
        });
        if (parts.containsKey("train") && !parts.containsKey("validation")) carveValidation(parts);
        return new Split(file, kb, parts);
    }

    /** Every {@value #VALIDATION_EVERY}-th training article (in file order) goes to the derived part "validation". */
    static final int VALIDATION_EVERY = 10;

    /**
     * Derives "validation" (every 10th article of "train", file order; the last of each group of ten) and "fit" (the
     * other training articles), so recipe choices are made on questions the model did not train on and never on
     * test questions: train on "fit", judge on "validation"; report on "test" after training on "train".
     */
    private static void carveValidation(Map<String, Map<Path, Set<String>>> parts) {
        Map<Path, Set<String>> validation = new LinkedHashMap<>(), fit = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<Path, Set<String>> e : parts.get("train").entrySet()) {
            Set<String> articles = e.getValue() != null ? e.getValue() : SquadReader.titles(e.getKey());
            Set<String> v = new LinkedHashSet<>(), f = new LinkedHashSet<>();
            for (String t : articles) (i++ % VALIDATION_EVERY == VALIDATION_EVERY - 1 ? v : f).add(t);
            if (!v.isEmpty()) validation.put(e.getKey(), v);
            if (!f.isEmpty()) fit.put(e.getKey(), f);
        }
        parts.put("validation", validation);
        parts.put("fit", fit);
    }

    private static Path resolve(Path split, Path base, String rel) {
        Path p = base.resolve(rel).normalize();
        if (!Files.isRegularFile(p)) throw new UserException(split + ": listed file " + rel + " not found at " + p);
        return p;
    }

    public Path file() {
        return file;
    }

    public List<Path> kbFiles() {
        return kbFiles;
    }

    public Set<String> parts() {
        return parts.keySet();
    }

    /** Files of a part and their article selection (null = all articles). */
    public Map<Path, Set<String>> files(String part) {
        Map<Path, Set<String>> f = parts.get(part);
        if (f == null) throw new UserException(file + ": no part '" + part + "' (has " + parts.keySet() + ")");
        return f;
    }

    /** The questions of a part ("train", "test"), in split file order. */
    public List<QaExample> questions(String part) {
        List<QaExample> out = new ArrayList<>();
        files(part).forEach((f, articles) -> out.addAll(SquadReader.read(f, articles)));
        return out;
    }

    /** The questions of a part that come from one file. */
    public List<QaExample> questions(String part, Path onlyFile) {
        Path want = onlyFile.toAbsolutePath().normalize();
        Map<Path, Set<String>> files = files(part);
        if (!files.containsKey(want)) throw new UserException(file + ": part '" + part + "' does not use " + onlyFile);
        return SquadReader.read(want, files.get(want));
    }
}
