package dev.rage2e.rag;

import ai.djl.ndarray.NDManager;
import dev.rage2e.model.BertForQuestionAnswering;
import dev.rage2e.model.Seq2SeqModels;
import dev.rage2e.reader.SpanReader;
import java.nio.file.Path;

/** Loads RAG's reader from a model directory: a span reader ({@code BertForQuestionAnswering}) or a generator. */
public final class Readers {
    private Readers() {}

    /** A {@link SpanReader} or a {@link dev.rage2e.model.Seq2SeqModel}, chosen by the directory's config.json. */
    public static AutoCloseable load(Path dir, NDManager manager) {
        if (BertForQuestionAnswering.isSpanReader(dir))
            return new SpanReader(BertForQuestionAnswering.load(dir, manager));
        return Seq2SeqModels.load(dir, manager);
    }
}
