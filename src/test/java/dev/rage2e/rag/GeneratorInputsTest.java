package dev.rage2e.rag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.model.TextTokenizer;
import dev.rage2e.testutil.TinyWordPieceTokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratorInputsTest {
    @TempDir
    Path tmp;

    private TextTokenizer tokenizer() throws Exception {
        return TextTokenizer.load(
                TinyWordPieceTokenizer.write(
                        tmp, List.of("what", "year", "was", "the", "bridge", "built", "passage", "title", "word")),
                0);
    }

    private static String decoded(TextTokenizer tok, long[] ids) {
        return tok.decode(ids, true).replace(" ##", "").replace("##", "");
    }

    @Test
    void passageTextIsCutBeforeTheQuestion() throws Exception {
        TextTokenizer tok = tokenizer();
        String question = "what year was the bridge built";
        long[] ids = GeneratorInputs.tokenize(
                tok, "title", "passage word ".repeat(50).strip(), question, 40);
        assertTrue(ids.length <= 40, "fits: " + ids.length);
        assertTrue(decoded(tok, ids).endsWith(question), decoded(tok, ids));
        assertTrue(decoded(tok, ids).contains("passage word"), "the passage is cut, not dropped: " + decoded(tok, ids));
        assertTrue(decoded(tok, ids).startsWith("title / passage"), decoded(tok, ids));
    }

    @Test
    void aQuestionLongerThanTheLimitKeepsItsStart() throws Exception {
        TextTokenizer tok = tokenizer();
        String question = "what year was the bridge built " + "word ".repeat(40).strip();
        long[] ids = GeneratorInputs.tokenize(tok, "title", "passage word passage", question, 20);
        assertEquals(20, ids.length);
        String d = decoded(tok, ids);
        assertTrue(d.contains("what year was the bridge built"), "the question's start survives: " + d);
        assertTrue(!d.contains("passage"), "the passage goes first: " + d);
        // the last token is still the end-of-sequence token
        long[] full = tok.encode("x", 100);
        assertEquals(full[full.length - 1], ids[ids.length - 1]);
    }

    @Test
    void aQuestionThatFitsOnlyWithoutTheTitleIsKeptWhole() throws Exception {
        TextTokenizer tok = tokenizer();
        String question = "what year was the bridge built word word";
        int alone = tok.encode(GeneratorInputs.combine("", "", question), Integer.MAX_VALUE).length;
        long[] ids = GeneratorInputs.tokenize(tok, "title title title title", "passage", question, alone);
        assertTrue(decoded(tok, ids).endsWith(question), decoded(tok, ids));
    }
}
