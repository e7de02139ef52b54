package dev.rage2e.kb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.util.Fingerprint;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KbBuilderTest {
    @TempDir
    Path tmp;

    private static String words(String prefix, int n) {
        return IntStream.range(0, n).mapToObj(i -> prefix + i).collect(Collectors.joining(" "));
    }

    private Path file(String name, String content) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, content, StandardCharsets.UTF_8);
        return p;
    }

    private static List<Passage> all(KnowledgeBase kb) {
        List<Passage> out = new ArrayList<>();
        for (int i = 0; i < kb.size(); i++) out.add(kb.passage(i));
        return out;
    }

    /** Domain QA sets often ship articles without a title (paragraphs with a document_id), and long contexts. */
    @Test
    void squadArticlesWithoutTitlesAreTitledByTheirDocumentId() throws IOException {
        Path squad = file(
                "domain.json",
                "{\"data\": [\n"
                        + "{\"document_id\": \"doc-7\", \"paragraphs\": [{\"context\": \"one two three\", \"qas\": "
                        + "[]}]},\n"
                        + "{\"paragraphs\": [{\"document_id\": \"manual_p4\", \"context\": \"" + words("w", 3000)
                        + "\", "
                        + "\"qas\": []},\n"
                        + "  {\"context\": \"no id at all\", \"qas\": []}]}]}");
        KbBuilder.build(List.of(squad), tmp.resolve("kb"), 100);
        List<Passage> ps = all(KnowledgeBase.open(tmp.resolve("kb")));
        assertEquals(1 + 30 + 1, ps.size(), "a 3,000-word context is 30 passages");
        assertEquals("doc-7", ps.get(0).title());
        assertTrue(
                ps.subList(1, 31).stream().allMatch(p -> p.title().equals("manual p4")),
                "underscores shown as spaces, as titles");
        assertEquals("", ps.get(31).title());
        assertEquals("no id at all", ps.get(31).text());
    }

    @Test
    void chunksIntoConsecutivePassagesOfAtMostNWords() {
        List<String> c = Chunker.chunk("  a b\tc\n d\u00a0e  f g ", 3);
        assertEquals(List.of("a b c", "d e f", "g"), c);
        assertEquals(List.of(), Chunker.chunk(" \n ", 3));
        assertEquals("hello world", Chunker.normalizeSpace(" Hello\n\tWORLD "));
    }

    @Test
    void csvWithQuotingBecomesPassagesWithStableDenseIds() throws IOException {
        String longText = words("w", 250);
        Path csv = file(
                "docs.csv",
                "id,title,text\n"
                        + "1,First,\"" + longText + "\"\n"
                        + "2,\"Second, with comma\",\"He said \"\"hi\"\",\nthen left\"\r\n"
                        + "\n"
                        + "3,Third,plain text\n");
        ObjectNode m = KbBuilder.build(List.of(csv), tmp.resolve("kb"), 100);
        KnowledgeBase kb = KnowledgeBase.open(tmp.resolve("kb"));
        List<Passage> ps = all(kb);
        assertEquals(5, ps.size());
        assertEquals(new Passage(0, "First", words("w", 100)), ps.get(0));
        assertEquals("w100", ps.get(1).text().split(" ")[0]);
        assertEquals(50, ps.get(2).text().split(" ").length);
        assertEquals(new Passage(3, "Second, with comma", "He said \"hi\", then left"), ps.get(3));
        assertEquals(new Passage(4, "Third", "plain text"), ps.get(4));
        assertEquals(3, m.get("documents").asInt());
        assertEquals(5, m.get("passages").asInt());
        JsonNode src = m.get("sources").get(0);
        assertEquals(Fingerprint.sha256(csv), src.get("sha256").asText());
        assertEquals("csv", src.get("format").asText());
        // stable: the same input gives the same passages and checksum
        ObjectNode again = KbBuilder.build(List.of(csv), tmp.resolve("kb2"), 100);
        assertEquals(m.get("passages_sha256"), again.get("passages_sha256"));
    }

    @Test
    void tsvJsonlAndSquadInputsInOrder() throws IOException {
        Path tsv = file("a.tsv", "title\ttext\nAlpha\tone two three\n\"Be\"\"ta\"\t\"four\tfive\"\n");
        Path jsonl = file(
                "b.jsonl",
                "{\"title\": \"Gamma\", \"text\": \"six seven\", \"id\": 3}\n\n{\"text\": "
                        + "\"eight\", \"title\": \"\"}\n");
        Path squad = file(
                "c.json",
                "{\"version\": \"1.1\", \"data\": ["
                        + "{\"paragraphs\": [{\"context\": \"nine  ten\", \"qas\": []}, {\"context\": \"nine ten\", "
                        + "\"qas\": []},"
                        + " {\"context\": \"eleven\", \"qas\": []}], \"title\": \"New_York_City\"},"
                        + "{\"title\": \"Other\", \"paragraphs\": [{\"context\": \"nine ten\", \"qas\": []}]}]}");
        ObjectNode m = KbBuilder.build(List.of(tsv, jsonl, squad), tmp.resolve("kb"), 100);
        KnowledgeBase kb = KnowledgeBase.open(tmp.resolve("kb"));
        assertEquals(
                List.of(
                        new Passage(0, "Alpha", "one two three"),
                        new Passage(1, "Be\"ta", "four five"),
                        new Passage(2, "Gamma", "six seven"),
                        new Passage(3, "", "eight"),
                        new Passage(4, "New York City", "nine ten"),
                        new Passage(5, "New York City", "eleven"),
                        new Passage(6, "Other", "nine ten")),
                all(kb));
        assertEquals(1, m.get("duplicate_contexts_skipped").asInt()); // same title + same words
        assertEquals(
                List.of("tsv", "jsonl", "squad"),
                List.of(
                        m.get("sources").get(0).get("format").asText(),
                        m.get("sources").get(1).get("format").asText(),
                        m.get("sources").get(2).get("format").asText()));
        assertEquals("eight", kb.passage(3).encoderInput());
        assertEquals("Gamma six seven", kb.passage(2).encoderInput());
    }

    private void assertRejected(Path input, String expected) throws IOException {
        Path out = tmp.resolve("kb-" + input.getFileName());
        UserException e = assertThrows(UserException.class, () -> KbBuilder.build(List.of(input), out, 100));
        assertTrue(e.getMessage().startsWith(input + ":"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should contain '" + expected + "'");
        assertFalse(Files.exists(out), "no KB may be left behind");
        try (var s = Files.list(tmp)) {
            assertTrue(
                    s.noneMatch(p -> p.getFileName().toString().contains(".tmp-")),
                    "no temp directory may be left behind");
        }
    }

    @Test
    void badInputsNameFileAndLineAndLeaveNoKb() throws IOException {
        assertRejected(file("missing.csv", "title,body\nA,b\n"), ":1: header must name the columns 'title' and 'text'");
        assertRejected(
                file("fields.csv", "title,text\nA,b\nB,c,d\n"), ":3: expected 2 fields like the header, found 3");
        assertRejected(file("empty.tsv", "title\ttext\nA\tb\nB\t   \n"), ":3: empty text");
        assertRejected(file("quote.csv", "title,text\nA,b\nB,\"never closed\nmore\n"), ":3: unterminated quoted field");
        assertRejected(
                file("after.csv", "title,text\nA,\"b\"x\n"), ":2: unexpected character 'x' after a closing quote");
        assertRejected(
                file("bad.jsonl", "{\"title\": \"A\", \"text\": \"b\"}\n{\"title\": \"B\", \"text\": }\n"),
                ":2: invalid JSON");
        assertRejected(
                file("nofield.jsonl", "{\"title\": \"A\", \"text\": \"b\"}\n\n{\"title\": \"B\"}\n"),
                ":3: missing field 'text'");
        assertRejected(file("type.jsonl", "{\"title\": \"A\", \"text\": 5}\n"), ":1: field 'text' must be a string");
        assertRejected(
                file("broken.json", "{\"data\": [\n{\"title\": \"A\", \"paragraphs\": [\n{\"context\": \"x\"}\n,]}]}"),
                ":4: invalid JSON");
        assertRejected(
                file(
                        "noctx.json",
                        "{\"data\": [\n{\"title\": \"A\", \"paragraphs\": [\n{\"context\": "
                                + "\"x\"},\n{\"qas\": []}]}]}"),
                ":4: paragraph without a string 'context'");
        assertRejected(file("nodata.json", "{\"version\": 1}"), "no 'data' array");
        Path utf = tmp.resolve("latin1.tsv");
        Files.write(utf, new byte[] {
            't',
            'i',
            't',
            'l',
            'e',
            '\t',
            't',
            'e',
            'x',
            't',
            '\n',
            'A',
            '\t',
            'o',
            'k',
            '\n',
            'B',
            '\t',
            'c',
            'a',
            'f',
            (byte) 0xE9,
            '\n'
        });
        assertRejected(utf, ":3: invalid UTF-8");
        Path utfJson = tmp.resolve("latin1.json");
        Files.write(
                utfJson,
                ("{\"data\": [\n{\"title\": \"A\", \"paragraphs\": [{\"context\": \"caf" + (char) 0 + "\"}]}]}")
                        .replace((char) 0, '?')
                        .getBytes(StandardCharsets.UTF_8));
        byte[] b = Files.readAllBytes(utfJson);
        b[b.length - 8] = (byte) 0xE9;
        Files.write(utfJson, b);
        assertRejected(utfJson, ":2: invalid JSON");
    }

    @Test
    void refusesToOverwriteAnExistingKbAndUnknownFormats() throws IOException {
        Path csv = file("d.csv", "title,text\nA,b\n");
        KbBuilder.build(List.of(csv), tmp.resolve("kb"), 100);
        UserException e =
                assertThrows(UserException.class, () -> KbBuilder.build(List.of(csv), tmp.resolve("kb"), 100));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        Path txt = file("d.txt", "x");
        assertThrows(UserException.class, () -> KbBuilder.build(List.of(txt), tmp.resolve("kb3"), 100));
        assertFalse(Files.exists(tmp.resolve("kb3")));
    }
}
