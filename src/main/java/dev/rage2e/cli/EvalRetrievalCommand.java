package dev.rage2e.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.RetrievalEval;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rag eval retrieval}: recall@k of the question encoder + current embeddings. */
@Command(
        name = "retrieval",
        mixinStandardHelpOptions = true,
        description = "recall@k: share of questions with a gold answer (case-insensitive, whitespace-normalised) "
                + "inside one of "
                + "the top k passages. Questions: a SQuAD file (--questions), a split part (--split S --part P), "
                + "or both "
                + "(that file's questions of the part).")
public final class EvalRetrievalCommand implements Callable<Integer> {
    @Option(names = "--kb", required = true, description = "Knowledge base directory.")
    Path kb;

    @Option(names = "--encoder", required = true, description = "Question encoder directory (models/NAME, HF layout).")
    Path encoder;

    @Option(names = "--questions", description = "SQuAD-format question file.")
    Path questions;

    @Option(names = "--split", description = "Split file (e.g. ../shared/data/splits-squad-kb.json).")
    Path split;

    @Option(names = "--part", defaultValue = "test", description = "Part of the split (default ${DEFAULT-VALUE}).")
    String part;

    @Option(names = "-k", split = ",", defaultValue = "1,5,20", description = "Cut-offs (default ${DEFAULT-VALUE}).")
    int[] ks;

    @Option(names = "--index", defaultValue = "auto", description = "auto (hnsw when built, else flat), flat or hnsw.")
    String index;

    @Option(
            names = "--batch",
            defaultValue = "64",
            description = "Questions per forward pass (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(
            names = "--max-len",
            defaultValue = "256",
            description = "Truncate questions to this many tokens (default ${DEFAULT-VALUE}).")
    int maxLen;

    @Option(names = "--limit", description = "Evaluate only the first N questions.")
    Integer limit;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (questions == null && split == null)
            throw new UserException("give --questions FILE and/or --split SPLIT.json");
        if (Arrays.stream(ks).anyMatch(x -> x <= 0)) throw new UserException("-k: cut-offs must be positive");
        List<QaExample> qs = split == null
                ? SquadReader.read(questions)
                : questions == null
                        ? Split.load(split).questions(part)
                        : Split.load(split).questions(part, questions);
        if (limit != null) qs = qs.subList(0, Math.min(limit, qs.size()));
        if (qs.isEmpty()) throw new UserException("no questions selected");
        KnowledgeBase kbase = KnowledgeBase.open(kb);
        try (NDManager root = NDManager.newBaseManager();
                EncoderModel enc = EncoderModel.load(encoder, root);
                KbRetriever retriever = KbRetriever.open(kbase, index)) {
            RetrievalEval.Report r =
                    RetrievalEval.run(retriever, retriever.resolvedIndexType(), enc, qs, ks, batch, maxLen, System.err);
            ObjectNode o = r.toJson();
            o.put("encoder", encoder.toString());
            if (split != null) o.put("split", split + ":" + part);
            System.out.println(Json.write(o));
        }
        return 0;
    }
}
