package dev.rage2e.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.index.ScoredPassage;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag search}: top-k passages for questions. */
@Command(
        name = "search",
        mixinStandardHelpOptions = true,
        description = "Encode each question with the query encoder and print one JSON line per question with the "
                + "top-k passages "
                + "(id, title, text, score = inner product) of the KB's current embeddings version.")
public final class SearchCommand implements Callable<Integer> {
    @Option(names = "--kb", required = true, description = "Knowledge base directory.")
    Path kb;

    @Option(names = "--encoder", required = true, description = "Question encoder directory (models/NAME, HF layout).")
    Path encoder;

    @Option(names = "-k", defaultValue = "5", description = "Passages per question (default ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--index", defaultValue = "auto", description = "auto (hnsw when built, else flat), flat or hnsw.")
    String index;

    @Option(
            names = "--max-len",
            defaultValue = "256",
            description = "Truncate questions to this many tokens (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Parameters(arity = "1..*", paramLabel = "QUESTION", description = "Questions.")
    List<String> questions;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (k <= 0) throw new UserException("-k must be positive, got " + k);
        KnowledgeBase kbase = KnowledgeBase.open(kb);
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoder, root);
                KbRetriever retriever = KbRetriever.open(kbase, index)) {
            float[][] q = enc.encodeTexts(questions, true, maxLen, 32);
            KbRetriever.Result r = retriever.searchPassages(q, k);
            for (int i = 0; i < questions.size(); i++) {
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("question", questions.get(i));
                o.put("embeddings_version", r.version());
                o.put("index", r.indexType());
                ArrayNode ps = o.putArray("passages");
                for (ScoredPassage sp : r.hits().get(i)) {
                    ObjectNode p = ps.addObject();
                    p.put("id", sp.passage().id());
                    p.put("title", sp.passage().title());
                    p.put("text", sp.passage().text());
                    p.put("score", sp.score());
                }
                System.out.println(Json.write(o));
            }
        }
        return 0;
    }
}
