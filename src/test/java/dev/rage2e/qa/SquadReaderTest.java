package dev.rage2e.qa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.rag.GoldPassages;
import dev.rage2e.rag.Retriever;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SquadReaderTest {
    @TempDir
    Path tmp;

    /** Questions of title-less articles carry the document_id as their article; long contexts and answers work. */
    @Test
    void readsArticlesWithoutTitlesAndLongContexts() throws Exception {
        String longAnswer = IntStream.range(0, 40).mapToObj(i -> "a" + i).collect(Collectors.joining(" "));
        String before = IntStream.range(0, 2500).mapToObj(i -> "b" + i).collect(Collectors.joining(" "));
        String context = before + " " + longAnswer + " end";
        Path f = tmp.resolve("domain.json");
        Files.writeString(
                f,
                "{\"data\": [{\"paragraphs\": [{\"document_id\": \"doc_1\", \"context\": "
                        + "\"" + context + "\", \"qas\": ["
                        + "{\"id\": \"q1\", \"question\": \"what is long?\", \"answers\": [{\"text\": "
                        + "\"" + longAnswer + "\", \"answer_start\": "
                        + (before.length() + 1) + "}]}]}]},"
                        + "{\"document_id\": 42, \"paragraphs\": [{\"context\": \"short text here\", \"qas\": ["
                        + "{\"id\": \"q2\", \"question\": \"what is short?\", \"answers\": [{\"text\": \"short\", "
                        + "\"answer_start\": 0}]}]}]}]}");
        List<QaExample> qs = SquadReader.read(f);
        assertEquals(2, qs.size());
        assertEquals("doc_1", qs.get(0).title());
        assertEquals("42", qs.get(1).title());
        assertEquals(Set.of("doc_1", "42"), SquadReader.titles(f));
        assertEquals(
                1, SquadReader.read(f, Set.of("42")).size(), "a split can name title-less articles by document_id");
        Retriever.Passage gold = GoldPassages.of(qs.get(0), false);
        assertNotNull(gold, "the 100-word chunk around a 40-word answer deep in a 2,500-word context");
        assertTrue(gold.text().contains(longAnswer), gold.text());
        assertEquals(context, GoldPassages.of(qs.get(0), true).text());
    }
}
