package dev.rage2e.cli;

import dev.rage2e.engine.Torch;
import dev.rage2e.serve.Inference;
import dev.rage2e.serve.RagBackend;
import dev.rage2e.util.Json;
import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rag answer}: what {@code rag serve} answers, for questions on the command line. */
@Command(
        name = "answer",
        mixinStandardHelpOptions = true,
        description = "Answer questions with a trained RAG checkpoint (or a run folder's latest) and print one "
                + "JSON line per question: "
                + "answer, passages (id, title, text, score, posterior p(z|x)), embeddings version, timings. Same "
                + "code as rag serve.")
public final class AnswerCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "Checkpoint folder or run folder.")
    Path checkpoint;

    @Option(names = "--kb", description = "Knowledge base (default: the kb in the checkpoint's config.yaml).")
    Path kb;

    @Option(names = "-k", description = "Passages read per question (default: the checkpoint's n-docs).")
    Integer k;

    @Option(names = "--index", defaultValue = "auto", description = "auto (hnsw when built, else flat), flat or hnsw.")
    String index;

    @Option(names = "--beams", description = "Beam size (default: the checkpoint's num-beams).")
    Integer beams;

    @Option(names = "--max-answer-length", description = "Max answer tokens incl. start (default: the checkpoint's).")
    Integer maxAnswerLength;

    @Option(names = "--decoding", description = "token, thorough or fast (default by model type).")
    String decoding;

    @Option(names = "--threads", defaultValue = "0", description = "libtorch intra-op threads (0: library default).")
    int threads;

    @Option(
            names = "--profile",
            paramLabel = "FILE",
            description = "Write libtorch's profiler trace of answering all questions but the first (a warm-up) as "
                    + "Chrome trace JSON; bench/profile-summary.py FILE N-1 sums it per operator and question.")
    Path profile;

    @Parameters(arity = "1..*", paramLabel = "QUESTION", description = "Questions.")
    List<String> questions;

    @picocli.CommandLine.Mixin
    PrecisionOption precisionOption = new PrecisionOption();

    @Override
    public Integer call() {
        precisionOption.apply();
        if (k != null && k < 1) throw new UserException("-k must be >= 1, got " + k);
        Inference.setThreads(threads);
        int maxK = Math.max(20, k == null ? 0 : k);
        try (RagBackend b = RagBackend.open(
                checkpoint,
                kb,
                new RagBackend.Options(beams, maxAnswerLength, ServeCommand.mode(decoding), index, maxK))) {
            for (int i = 0; i < questions.size(); i++) {
                String q = questions.get(i);
                if (q.isBlank()) throw new UserException("empty question");
                if (profile != null && i == Math.min(1, questions.size() - 1)) Torch.startProfile();
                System.out.println(Json.write(b.answer(q.strip(), k == null ? b.defaultK() : k)));
            }
            if (profile != null) Torch.stopProfile(profile);
        }
        return 0;
    }
}
