package dev.rage2e.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.rage2e.cli.Main;
import dev.rage2e.kb.KbBuilder;
import dev.rage2e.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every case of {@code src/test/resources/hostile/manifest.json} through the real CLI in-process:
 * each must exit non-zero with one line {@code rag: ...} naming the file and the problem (no stack
 * trace), and must leave every file that existed before byte-identical and create no new files.
 */
class HostileInputTest {
    static final Path CASES = Path.of("src/test/resources/hostile");

    @TempDir
    Path tmp;

    @Test
    void everyHostileInputIsRejectedCleanlyAndTouchesNothing() throws Exception {
        // the once-per-process "rag: precision ..." line comes with the first command that runs a model; decide it
        // here, so no case's output depends on which tests ran before it in this JVM
        dev.rage2e.engine.Precision.applyAndLog(dev.rage2e.engine.Precision.Setting.AUTO);
        JsonNode manifest = Json.read(CASES.resolve("manifest.json"));
        Path kb = tmp.resolve("existing-kb");
        Path good = tmp.resolve("good.tsv");
        Files.writeString(good, "title\ttext\nA\tThe Eiffel Tower is in Paris.\nB\tThe Colosseum is in Rome.\n");
        KbBuilder.build(List.of(good), kb, 100);
        Path run = tmp.resolve("existing-run");
        Files.createDirectories(run.resolve("checkpoint-000002"));
        Files.writeString(run.resolve("checkpoint-000002").resolve("trainer_state.json"), "{\"step\": 2}");
        Files.writeString(run.resolve("latest"), "checkpoint-000002\n");
        Files.writeString(run.resolve("metrics.jsonl"), "{\"event\":\"train\",\"step\":1,\"loss\":3.0}\n");

        List<String> failures = new ArrayList<>();
        int tried = 0;
        for (JsonNode c : manifest.get("cases")) {
            tried++;
            String id = c.get("id").asText();
            if (c.has("generate")) {
                JsonNode g = c.get("generate");
                Files.writeString(
                        tmp.resolve(g.get("file").asText()),
                        g.get("head").asText()
                                + g.get("repeat").asText().repeat(g.get("times").asInt())
                                + g.get("tail").asText());
            }
            List<String> args = new ArrayList<>();
            for (JsonNode a : c.get("args")) {
                args.add(a.asText()
                        .replace("{case}", CASES.toAbsolutePath().toString())
                        .replace("{tmp}", tmp.toString())
                        .replace("{kb}", kb.toString())
                        .replace("{run}", run.toString()));
            }
            TreeMap<String, String> before = snapshot(tmp, CASES);
            PrintStream oldErr = System.err;
            PrintStream oldOut = System.out;
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int rc;
            try (PrintStream capture = new PrintStream(err, true, StandardCharsets.UTF_8)) {
                System.setErr(capture);
                System.setOut(capture);
                rc = Main.run(args.toArray(new String[0]));
            } finally {
                System.setErr(oldErr);
                System.setOut(oldOut);
            }
            String out = err.toString(StandardCharsets.UTF_8).strip();
            List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
            String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
            String names = c.has("names") ? c.get("names").asText() : "";
            String problem = null;
            if (rc == 0) problem = "exit 0";
            else if (out.contains("\tat ") || out.contains("Exception in")) problem = "stack trace";
            else if (lines.size() != 1) problem = lines.size() + " lines of output";
            else if (!last.startsWith("rag: ")) problem = "not a 'rag: ' message";
            else if (!last.contains(c.get("expect").asText()))
                problem = "message lacks '" + c.get("expect").asText() + "'";
            else if (!last.contains(names)) problem = "message does not name " + names;
            if (problem == null) {
                TreeMap<String, String> after = snapshot(tmp, CASES);
                // a generated input file is the only thing allowed to differ: it was written before the snapshot
                if (!after.equals(before)) problem = "files changed: " + diff(before, after);
            }
            oldErr.println("hostile " + id + ": rc=" + rc + " " + (problem == null ? "ok" : "FAIL " + problem) + " "
                    + "| " + last);
            if (problem != null)
                failures.add(id + ": " + problem + " | output: " + (out.length() > 400 ? out.substring(0, 400) : out));
            AtomicFilesCleanup.deleteQuietly(tmp.resolve("new-kb"));
            AtomicFilesCleanup.deleteQuietly(tmp.resolve("new-run"));
        }
        System.err.println("hostile inputs: " + tried + " tried, " + (tried - failures.size()) + " rejected cleanly");
        assertTrue(tried >= 50, "corpus has " + tried + " cases");
        assertEquals(List.of(), failures);
    }

    /** path -> sha256 of every regular file (and "dir" for every directory) under the roots. */
    static TreeMap<String, String> snapshot(Path... roots) throws Exception {
        TreeMap<String, String> out = new TreeMap<>();
        for (Path root : roots) {
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.toList()) {
                    if (Files.isDirectory(p)) out.put(p.toString(), "dir");
                    else if (p.getFileName().toString().equals("huge.tsv")) out.put(p.toString(), "generated");
                    else
                        out.put(
                                p.toString(),
                                HexFormat.of()
                                        .formatHex(MessageDigest.getInstance("SHA-256")
                                                .digest(Files.readAllBytes(p))));
                }
            }
        }
        return out;
    }

    static String diff(TreeMap<String, String> a, TreeMap<String, String> b) {
        List<String> d = new ArrayList<>();
        for (String k : a.keySet())
            if (!a.get(k).equals(b.get(k))) d.add((b.containsKey(k) ? "changed " : "removed ") + k);
        for (String k : b.keySet()) if (!a.containsKey(k)) d.add("created " + k);
        return d.toString();
    }

    /** Test-side cleanup between cases (a case that wrongly succeeded may have created these). */
    static final class AtomicFilesCleanup {
        static void deleteQuietly(Path p) {
            try {
                dev.rage2e.util.AtomicFiles.deleteTree(p);
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}
