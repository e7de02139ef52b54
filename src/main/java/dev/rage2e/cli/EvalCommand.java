package dev.rage2e.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.eval.AnswerEval;
import dev.rage2e.eval.RetrievalEval;
import dev.rage2e.index.KbRetriever;
import dev.rage2e.kb.KnowledgeBase;
import dev.rage2e.qa.QaExample;
import dev.rage2e.qa.Split;
import dev.rage2e.qa.SquadReader;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.reader.SpanReader;
import dev.rage2e.train.RagCheckpoint;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rag eval --checkpoint DIR ...}: answers of a trained RAG model (EM/F1, official SQuAD
 * normalisation, max over gold answers) and retrieval recall@k of its question encoder;
 * {@code rag eval retrieval ...}: recall@k of any encoder.
 */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = {
            "Evaluate a trained RAG model's answers (EM, F1) and retrieval (recall@k) on SQuAD-format questions.",
            "Writes per-question predictions with their passages. 'rag eval retrieval' evaluates retrieval only."
        },
        subcommands = {EvalRetrievalCommand.class})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", description = "Run folder (latest checkpoint) or checkpoint folder.")
    Path checkpoint;

    @Option(names = "--kb", description = "Knowledge base (default: the one the model was trained with).")
    Path kb;

    @Option(names = "--questions", description = "SQuAD-format question file.")
    Path questions;

    @Option(
            names = "--split",
            description = "Split file selecting articles (e.g. ../shared/data/splits-squad-kb.json).")
    Path split;

    @Option(names = "--part", defaultValue = "test", description = "Part of the split (default ${DEFAULT-VALUE}).")
    String part;

    @Option(names = "--limit", description = "Evaluate only the first N questions.")
    Integer limit;

    @Option(
            names = "-k",
            split = ",",
            defaultValue = "1,5,20",
            description = "Retrieval recall cut-offs (default ${DEFAULT-VALUE}).")
    int[] ks;

    @Option(names = "--num-beams", defaultValue = "4")
    int beams;

    @Option(names = "--max-answer-length", defaultValue = "16")
    int maxAnswerLength;

    @Option(
            names = "--decoding",
            description = "token (RAG-token beam), thorough or fast (RAG-sequence); default by model type.")
    String decoding;

    @Option(
            names = "--predictions",
            description = "Where to write predictions (default: CHECKPOINT/predictions-PART.jsonl).")
    Path predictions;

    @Option(names = "--index", defaultValue = "auto", description = "auto, flat or hnsw.")
    String index;

    @Option(
            names = "--gold-passages",
            description = "Answer each question from its gold passage (the KB-style "
                    + "passage of its SQuAD "
                    + "paragraph holding the answer) instead of retrieved ones: the reader's quality apart "
                    + "from retrieval.")
    boolean goldPassages;

    @Option(
            names = "--span-score",
            description = "Span reader decoding: max or sum of an answer string's span "
                    + "probabilities "
                    + "(default: the checkpoint's span-score).")
    String spanScore;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() throws Exception {
        precisionOption.apply();
        if (checkpoint == null) throw new UserException("give --checkpoint DIR (or use 'rag eval retrieval')");
        if (questions == null && split == null)
            throw new UserException("give --questions FILE and/or --split SPLIT.json");
        List<QaExample> qs = split == null
                ? SquadReader.read(questions)
                : questions == null
                        ? Split.load(split).questions(part)
                        : Split.load(split).questions(part, questions);
        if (limit != null) qs = qs.subList(0, Math.min(limit, qs.size()));
        if (qs.isEmpty()) throw new UserException("no questions selected");
        try (NDManager root = NDManager.newBaseManager()) {
            RagCheckpoint.Loaded loaded = RagCheckpoint.load(checkpoint, root);
            try (var rag = loaded.model();
                    KbRetriever retriever = KbRetriever.open(
                            KnowledgeBase.open(kb != null ? kb : Path.of(loaded.config().kb)), index)) {
                String mismatch =
                        dev.rage2e.train.EmbeddingsMatch.mismatch(loaded.dir(), retriever.kb(), retriever.version());
                if (mismatch != null) System.err.println("rag: warning: " + mismatch);
                RagDecoder.Mode mode = decoding == null
                        ? RagDecoder.defaultMode(rag.settings.kind())
                        : switch (decoding) {
                            case "token" -> RagDecoder.Mode.TOKEN;
                            case "thorough" -> RagDecoder.Mode.THOROUGH;
                            case "fast" -> RagDecoder.Mode.FAST;
                            default -> throw new UserException("--decoding must be token, thorough or fast");
                        };
                RagDecoder decoder = new RagDecoder(
                        rag,
                        new RagDecoder.Options(beams, maxAnswerLength),
                        mode,
                        spanScore != null ? SpanReader.SpanScore.parse(spanScore) : loaded.config().spanScore);
                Path preds = predictions != null
                        ? predictions
                        : loaded.dir().resolve("predictions-" + (split != null ? part : "eval") + ".jsonl");
                TreeSet<Integer> used = new TreeSet<>();
                for (int k : ks) if (k <= rag.settings.nDocs()) used.add(k);
                used.add(rag.settings.nDocs());
                AnswerEval.Report a = AnswerEval.run(
                        rag,
                        decoder,
                        retriever,
                        qs,
                        goldPassages ? 32 : 8,
                        used.stream().mapToInt(Integer::intValue).toArray(),
                        preds,
                        root,
                        System.err,
                        goldPassages);
                RetrievalEval.Report r = RetrievalEval.run(
                        retriever,
                        retriever.resolvedIndexType(),
                        rag.questionEncoder,
                        qs,
                        ks,
                        64,
                        rag.settings.maxQuestionLength(),
                        null);
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("checkpoint", loaded.dir().toString());
                o.put("questions", a.questions());
                o.put("passages", goldPassages ? "gold" : "retrieved");
                o.put("reader", rag.readerKind());
                o.put("em", a.em());
                o.put("f1", a.f1());
                ObjectNode rec = o.putObject("retrieval");
                rec.setAll(r.toJson());
                o.put(
                        "decoding",
                        rag.spanReader != null
                                ? "span-" + (spanScore != null ? spanScore : loaded.config().spanScore)
                                : mode.name().toLowerCase());
                o.put("embeddings_version", a.version());
                o.put("predictions", preds.toString());
                o.put("seconds", a.seconds() + r.seconds());
                System.out.println(Json.write(o));
            }
        }
        return 0;
    }
}
