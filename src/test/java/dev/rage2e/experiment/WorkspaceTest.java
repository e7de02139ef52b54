package dev.rage2e.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's own SQuAD-format domain: written subsets read back unchanged,
 * split by article, validation carved from train.
 */
class WorkspaceTest {
    @TempDir
    Path tmp;

    private List<QaExample> domain(int articles) {
        List<QaExample> qs = new ArrayList<>();
        for (int a = 0; a < articles; a++) {
            for (int q = 0; q < 3; q++) {
                String ctx = "Article " + a + " paragraph " + (q % 2) + " says the answer is word" + a + q + " today.";
                qs.add(new QaExample(
                        a + "-" + q,
                        "What does article " + a + " say " + q + "?",
                        List.of("word" + a + q),
                        "Title_" + a,
                        ctx));
            }
        }
        return qs;
    }

    @Test
    void writtenSquadReadsBackAndSplitsByArticle() throws Exception {
        List<QaExample> qs = domain(20);
        Path f = tmp.resolve("domain.json");
        Workspace.writeSquad(qs, f);
        assertEquals(qs, SquadReader.read(f));

        Split s = Split.load(Workspace.articleSplit(List.of(f), 0.2, tmp.resolve("split.json")));
        assertEquals(Set.of("train", "test", "validation", "fit"), s.parts());
        List<QaExample> test = s.questions("test"), train = s.questions("train");
        assertEquals(4 * 3, test.size(), "every 5th of 20 articles");
        assertEquals(16 * 3, train.size());
        for (QaExample e : test)
            assertTrue(train.stream().noneMatch(t -> t.title().equals(e.title())), "no article in both");
        // validation: every 10th training article, disjoint from fit
        List<QaExample> val = s.questions("validation"), fit = s.questions("fit");
        assertEquals(3 * 1, val.size());
        assertEquals(train.size(), val.size() + fit.size());
        for (QaExample e : val) assertTrue(fit.stream().noneMatch(t -> t.title().equals(e.title())));

        String msg = assertThrows(
                        UserException.class, () -> Workspace.articleSplit(List.of(f), 1.5, tmp.resolve("x.json")))
                .getMessage();
        assertTrue(msg.contains("--test-fraction"), msg);
    }
}
