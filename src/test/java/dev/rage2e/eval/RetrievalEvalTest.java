package dev.rage2e.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.index.ScoredPassage;
import dev.rage2e.kb.Passage;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.testutil.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RetrievalEvalTest {
    private static List<ScoredPassage> ranked(String... texts) {
        return java.util.stream.IntStream.range(0, texts.length)
                .mapToObj(i -> new ScoredPassage(new Passage(i, "T", texts[i]), 1f - i * 0.1f))
                .toList();
    }

    @Test
    void hasAnswerIsCaseInsensitiveAndWhitespaceNormalised() {
        assertTrue(RetrievalEval.hasAnswer("It was built by  Nikola\nTesla in 1899.", List.of("nikola tesla")));
        assertTrue(RetrievalEval.hasAnswer("abc", List.of("zzz", "B")));
        assertFalse(RetrievalEval.hasAnswer("Tesla coil", List.of("Nikola Tesla")));
        assertFalse(RetrievalEval.hasAnswer("anything", List.of("  ")));
    }

    @Test
    void recallAtKOnAHandmadeCase() {
        List<QaExample> qs = List.of(
                new QaExample("1", "q1", List.of("Paris"), "A"), // hit at rank 0
                new QaExample("2", "q2", List.of("red", "blue"), "A"), // hit at rank 2
                new QaExample("3", "q3", List.of("Mars"), "A"), // never
                new QaExample("4", "q4", List.of("seven"), "A")); // hit at rank 1
        List<List<ScoredPassage>> r = List.of(
                ranked("capital is paris", "x", "y"),
                ranked("x", "y", "the sky is Blue"),
                ranked("venus", "earth", "jupiter"),
                ranked("six", "Seven dwarfs", "eight"));
        RetrievalEval.Report rep = RetrievalEval.score(qs, r, new int[] {3, 1, 2});
        assertEquals(4, rep.questions());
        assertArrayEquals(new int[] {1, 2, 3}, rep.ks());
        assertArrayEquals(new double[] {0.25, 0.5, 0.75}, rep.recall(), 1e-12);
        assertEquals(0.5, rep.toJson().get("recall").get("@2").asDouble());
    }

    @Test
    void theSquadKbSplitHas5173TestQuestionsFromItsTestArticles() {
        Path splitFile = Fixtures.data("splits-squad-kb.json");
        Split split = Split.load(splitFile);
        assertEquals(2, split.kbFiles().size());
        List<QaExample> test = split.questions("test");
        assertEquals(5173, test.size());
        Set<String> testArticles = split.files("test").values().iterator().next();
        assertTrue(test.stream().allMatch(q -> testArticles.contains(q.title())));
        List<QaExample> train = split.questions("train");
        assertTrue(
                train.stream().noneMatch(q -> testArticles.contains(q.title())),
                "train and test articles are disjoint");
        QaExample first = SquadReader.read(split.kbFiles().get(0), Set.of("Super_Bowl_50"))
                .get(0);
        assertEquals("Which NFL team represented the AFC at Super Bowl 50?", first.question());
        assertEquals(List.of("Denver Broncos"), first.answers()); // three identical annotations, deduplicated
        Map<Path, Set<String>> trainFiles = split.files("train");
        assertTrue(trainFiles.containsValue(null), "\"all\" selects every article");
    }
}
