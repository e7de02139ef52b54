package dev.rage2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packages of the main code form layers (LAYERS, lowest first) with no cycles: each can be read knowing only the
 * ones below it (util, weights, engine -> model -> ... -> train -> train.refresh -> run -> experiment, serve -> cli).
 */
class PackageCyclesTest {
    private static final Path MAIN = Path.of("src/main/java/dev/rage2e");
    private static final Pattern WILDCARD = Pattern.compile("import dev\\.rage2e\\.[\\w.]*\\*;");
    private static final Pattern REF = Pattern.compile("dev\\.rage2e\\.([a-z][a-z0-9.]*)\\.([A-Z]\\w*)");

    /** The layers, lowest first, as the README's architecture table and each package-info.java state them. */
    static final List<String> LAYERS = List.of(
            "util",
            "weights",
            "engine",
            "model",
            "model.generate",
            "convert",
            "qa",
            "kb",
            "text",
            "reader",
            "rag",
            "index",
            "eval",
            "train",
            "train.refresh",
            "run",
            "experiment",
            "serve",
            "cli");

    @Test
    void everyPackageUsesOnlyLowerLayers() throws IOException {
        List<String> wrong = new ArrayList<>();
        for (var a : dependencies().entrySet()) {
            int la = LAYERS.indexOf(a.getKey());
            if (la < 0) {
                wrong.add(a.getKey() + ": not in LAYERS (add it where it belongs, with a package-info.java)");
                continue;
            }
            for (var b : a.getValue().entrySet()) {
                if (LAYERS.indexOf(b.getKey()) > la) wrong.add(a.getKey() + " -> " + b.getKey() + " " + b.getValue());
            }
        }
        for (int i = 0; i < LAYERS.size(); i++) {
            String p = LAYERS.get(i);
            Path info = MAIN.resolve(p.replace('.', '/')).resolve("package-info.java");
            if (!Files.isRegularFile(info)) wrong.add(p + ": no package-info.java");
            else if (!Files.readString(info).contains("Layer " + (i + 1) + " of " + LAYERS.size() + ":")) {
                wrong.add(p + ": package-info.java does not say \"Layer " + (i + 1) + " of " + LAYERS.size() + ":\"");
            }
        }
        assertEquals(List.of(), wrong, "dependencies on a higher layer");
    }

    @Test
    void packagesDoNotDependOnEachOtherInCycles() throws IOException {
        Map<String, Map<String, Set<String>>> deps = dependencies();
        assertTrue(deps.size() > 10, "packages read: " + deps.keySet());
        List<String> inCycles = new ArrayList<>();
        for (var a : deps.entrySet()) {
            for (var b : a.getValue().entrySet()) {
                if (reaches(deps, b.getKey(), a.getKey()))
                    inCycles.add(a.getKey() + " -> " + b.getKey() + " " + b.getValue());
            }
        }
        assertEquals(List.of(), inCycles, "package dependencies that close a cycle");
    }

    /** package -> package it uses -> the "Class->Class" references that make the edge. */
    private static Map<String, Map<String, Set<String>>> dependencies() throws IOException {
        Map<String, Map<String, Set<String>>> deps = new TreeMap<>(); // package -> package -> "Class->Class"
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                String pkg = MAIN.relativize(f.getParent()).toString().replace('/', '.');
                String cls = f.getFileName().toString().replace(".java", "");
                String src = Files.readString(f);
                assertTrue(
                        !WILDCARD.matcher(src).find(),
                        f + ": wildcard import of a project package (this test reads imports)");
                Matcher m = REF.matcher(src);
                while (m.find()) {
                    if (m.group(1).equals(pkg)) continue;
                    deps.computeIfAbsent(pkg, k -> new TreeMap<>())
                            .computeIfAbsent(m.group(1), k -> new TreeSet<>())
                            .add(cls + "->" + m.group(2));
                }
            }
        }
        return deps;
    }

    private static boolean reaches(Map<String, Map<String, Set<String>>> deps, String from, String to) {
        Set<String> seen = new TreeSet<>();
        ArrayDeque<String> todo = new ArrayDeque<>(List.of(from));
        while (!todo.isEmpty()) {
            String p = todo.pop();
            if (p.equals(to)) return true;
            if (seen.add(p)) todo.addAll(deps.getOrDefault(p, Map.of()).keySet());
        }
        return false;
    }
}
