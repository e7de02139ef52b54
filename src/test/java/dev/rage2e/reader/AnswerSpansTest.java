package dev.rage2e.reader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rage2e.model.TextTokenizer;
import dev.rage2e.testutil.BertTokenizerJson;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reader inputs and answer spans with the real BERT uncased tokenizer. */
class AnswerSpansTest {
    @TempDir
    Path tmp;

    private List<String> texts(SpanInput in, List<AnswerSpans.Span> spans) {
        List<String> out = new ArrayList<>();
        for (AnswerSpans.Span s : spans) out.add(in.spanText(s.start(), s.end()));
        return out;
    }

    @Test
    void findsEveryNormalisedOccurrenceInTheTextOnly() throws Exception {
        try (TextTokenizer tok = TextTokenizer.load(BertTokenizerJson.copyTo(tmp), 0)) {
            String text = "The Eiffel Tower stands in Paris. Built for the 1889 fair, the Eiffel tower is Paris's "
                    + "icon; Zürich is not.";
            SpanInput in = SpanInput.build(tok, "Where is the Eiffel Tower?", "Eiffel Tower", text, 256, 64);
            assertEquals(101, in.ids()[0]);
            assertEquals(102, in.ids()[in.ids().length - 1]);
            // token types: 0 through the first [SEP], 1 after
            int firstSep = 0;
            while (in.ids()[firstSep] != 102) firstSep++;
            assertEquals(0, in.typeIds()[firstSep]);
            assertEquals(1, in.typeIds()[firstSep + 1]);
            assertTrue(in.textStart() > firstSep + 1, "title tokens sit between the [SEP] and the text");

            // "The Eiffel Tower" normalises to "eiffel tower"; spans never start on the article, so each mention counts
            // once, whatever its case
            List<String> eiffel =
                    texts(in, AnswerSpans.find(in, AnswerSpans.normalized(List.of("The Eiffel Tower")), 30));
            assertEquals(List.of("Eiffel Tower", "Eiffel tower"), eiffel);
            // spans neither start nor end on punctuation: "Paris." is found as
            // "Paris", twice (the second inside "Paris's")
            List<String> paris = texts(in, AnswerSpans.find(in, AnswerSpans.normalized(List.of("Paris.")), 30));
            assertEquals(List.of("Paris", "Paris"), paris);
            // accents survive in the cut text although the tokenizer strips them
            assertEquals(
                    List.of("Zürich"), texts(in, AnswerSpans.find(in, AnswerSpans.normalized(List.of("Zürich")), 30)));
            // absent answer, and an answer longer than the span limit
            assertTrue(AnswerSpans.find(in, AnswerSpans.normalized(List.of("London")), 30)
                    .isEmpty());
            assertTrue(AnswerSpans.find(in, AnswerSpans.normalized(List.of("Built for the 1889 fair")), 3)
                    .isEmpty());
            assertEquals(
                    1,
                    AnswerSpans.find(in, AnswerSpans.normalized(List.of("Built for the 1889 fair")), 30)
                            .size());
            // the title holds "Eiffel Tower" too but a span never starts there
            for (AnswerSpans.Span s : AnswerSpans.find(in, Set.of("eiffel tower"), 30))
                assertTrue(s.start() >= in.textStart());
        }
    }

    @Test
    void textIsCutToTheBudgetAndKeepsOffsets() throws Exception {
        try (TextTokenizer tok = TextTokenizer.load(BertTokenizerJson.copyTo(tmp), 0)) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 200; i++) b.append("word").append(i).append(' ');
            SpanInput in = SpanInput.build(tok, "a question", "", b.toString().trim(), 64, 64);
            assertEquals(64, in.ids().length);
            assertEquals(64 - 3 - 2, in.textTokens());
            assertEquals("word0", in.spanText(in.textStart(), in.textStart() + 1));
        }
    }
}
