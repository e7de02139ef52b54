package dev.rage2e.eval;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.qa.QaExample;
import dev.rage2e.rag.RagDecoder;
import dev.rage2e.rag.RagModel;
import dev.rage2e.rag.Retriever;
import dev.rage2e.text.SquadMetrics;
import dev.rage2e.util.Json;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * End-to-end evaluation of a RAG model on questions: exact match and F1 of generated answers (official
 * SQuAD normalisation, max over gold answers) and retrieval recall@k of the passages it retrieved
 * (a hit is a passage containing a gold answer).
 */
public final class AnswerEval {
    private AnswerEval() {}

    public record Report(
            int questions, double em, double f1, int[] ks, double[] recall, String version, double seconds) {
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("questions", questions);
            o.put("em", em);
            o.put("f1", f1);
            for (int i = 0; i < ks.length; i++) o.put("recall@" + ks[i], recall[i]);
            o.put("embeddings_version", version);
            o.put("seconds", seconds);
            return o;
        }
    }

    /**
     * @param ks recall cut-offs, each at most the model's n-docs (the passages the generator read)
     * @param predictions JSON-lines file for per-question predictions and passages (may be null)
     */
    public static Report run(
            RagModel rag,
            RagDecoder decoder,
            Retriever retriever,
            List<QaExample> questions,
            int batch,
            int[] ks,
            Path predictions,
            NDManager manager,
            java.io.PrintStream progress)
            throws IOException {
        return run(rag, decoder, retriever, questions, batch, ks, predictions, manager, progress, false);
    }

    /**
     * As above; with {@code goldPassages} every question is answered from its own gold passage instead of retrieved
     * ones (the reader's quality apart from retrieval; recall is then 1 by construction and not reported).
     * Questions without a gold passage (no context, answer not in it) are left out.
     */
    public static Report run(
            RagModel rag,
            RagDecoder decoder,
            Retriever retriever,
            List<QaExample> questions,
            int batch,
            int[] ks,
            Path predictions,
            NDManager manager,
            java.io.PrintStream progress,
            boolean goldPassages)
            throws IOException {
        return run(rag, decoder, retriever, questions, batch, ks, predictions, manager, progress, goldPassages, false);
    }

    /** As above; {@code wholeParagraph}: a gold passage is the question's whole SQuAD paragraph. */
    public static Report run(
            RagModel rag,
            RagDecoder decoder,
            Retriever retriever,
            List<QaExample> questions,
            int batch,
            int[] ks,
            Path predictions,
            NDManager manager,
            java.io.PrintStream progress,
            boolean goldPassages,
            boolean wholeParagraph)
            throws IOException {
        List<Retriever.Passage> golds = new ArrayList<>();
        if (goldPassages) {
            List<QaExample> kept = new ArrayList<>();
            for (QaExample e : questions) {
                Retriever.Passage g = dev.rage2e.rag.GoldPassages.of(e, wholeParagraph);
                if (g != null) {
                    kept.add(e);
                    golds.add(g);
                }
            }
            questions = kept;
            ks = new int[0];
        }
        long t0 = System.nanoTime();
        double em = 0, f1 = 0;
        int[] hits = new int[ks.length];
        String version = null;
        Writer out = predictions == null ? null : Files.newBufferedWriter(predictions, StandardCharsets.UTF_8);
        try {
            for (int start = 0; start < questions.size(); start += batch) {
                List<QaExample> chunk = questions.subList(start, Math.min(questions.size(), start + batch));
                List<String> qs = new ArrayList<>();
                for (QaExample e : chunk) qs.add(e.question());
                List<RagDecoder.Answer> answers;
                if (goldPassages) {
                    answers = decoder.answerFromPassages(manager, qs, golds.subList(start, start + chunk.size()));
                } else {
                    try (Retriever.Snapshot snap = retriever.acquire()) {
                        version = snap.version();
                        answers = decoder.answer(manager, qs, snap);
                    }
                }
                for (int i = 0; i < chunk.size(); i++) {
                    QaExample e = chunk.get(i);
                    RagDecoder.Answer a = answers.get(i);
                    double qe = SquadMetrics.maxExactMatch(a.answer(), e.answers());
                    double qf = SquadMetrics.maxF1(a.answer(), e.answers());
                    em += qe;
                    f1 += qf;
                    int first = -1;
                    for (int j = 0; j < a.passages().size() && first < 0; j++) {
                        if (RetrievalEval.hasAnswer(a.passages().get(j).text(), e.answers())) first = j;
                    }
                    for (int k = 0; k < ks.length; k++) if (first >= 0 && first < ks[k]) hits[k]++;
                    if (out != null) {
                        ObjectNode o = Json.MAPPER.createObjectNode();
                        o.put("id", e.id());
                        o.put("question", e.question());
                        o.put("prediction", a.answer());
                        if (a.span() != null) o.put("span_passage", a.span().passage());
                        ArrayNode gold = o.putArray("answers");
                        e.answers().forEach(gold::add);
                        o.put("em", qe);
                        o.put("f1", qf);
                        ArrayNode ps = o.putArray("passages");
                        for (int j = 0; j < a.passages().size(); j++) {
                            ObjectNode p = ps.addObject();
                            p.put("id", a.passages().get(j).id());
                            p.put("title", a.passages().get(j).title());
                            if (goldPassages) p.put("text", a.passages().get(j).text());
                            p.put("score", a.docScores()[j]);
                            p.put("posterior", a.docPosterior()[j]);
                            p.put(
                                    "has_answer",
                                    RetrievalEval.hasAnswer(a.passages().get(j).text(), e.answers()));
                        }
                        out.write(Json.write(o) + "\n");
                    }
                }
                if (progress != null) {
                    int done = Math.min(questions.size(), start + batch);
                    double el = (System.nanoTime() - t0) / 1e9;
                    progress.printf(
                            "eval %d/%d  EM %.3f  %.1f q/s  ETA %.0fs%n",
                            done, questions.size(), em / done, done / el, (questions.size() - done) * el / done);
                }
            }
        } finally {
            if (out != null) out.close();
        }
        int n = Math.max(1, questions.size());
        double[] recall = new double[ks.length];
        for (int k = 0; k < ks.length; k++) recall[k] = (double) hits[k] / n;
        return new Report(questions.size(), em / n, f1 / n, ks, recall, version, (System.nanoTime() - t0) / 1e9);
    }
}
