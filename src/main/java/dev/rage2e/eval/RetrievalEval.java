package dev.rage2e.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.rage2e.index.ScoredPassage;
import dev.rage2e.kb.Chunker;
import dev.rage2e.kb.Passage;
import dev.rage2e.model.EncoderModel;
import dev.rage2e.qa.QaExample;
import dev.rage2e.rag.Retriever;
import dev.rage2e.util.Json;
import dev.rage2e.util.RateProgress;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Retrieval recall@k: the share of questions for which one of the top k passages contains a gold
 * answer, compared case-insensitively with whitespace runs collapsed (the DPR/RAG "has answer" test
 * on passage text, without SQuAD's punctuation/article stripping).
 */
public final class RetrievalEval {
    private RetrievalEval() {}

    public static boolean hasAnswer(String passageText, List<String> answers) {
        String text = Chunker.normalizeSpace(passageText);
        for (String a : answers) {
            String n = Chunker.normalizeSpace(a);
            if (!n.isEmpty() && text.contains(n)) return true;
        }
        return false;
    }

    /** Rank (0-based) of the first passage holding an answer, or -1. */
    public static int firstHit(List<ScoredPassage> ranked, List<String> answers) {
        for (int i = 0; i < ranked.size(); i++) {
            if (hasAnswer(ranked.get(i).passage().text(), answers)) return i;
        }
        return -1;
    }

    public record Report(int questions, int[] ks, double[] recall, String version, String index, double seconds) {
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("questions", questions);
            ObjectNode r = o.putObject("recall");
            for (int i = 0; i < ks.length; i++) r.put("@" + ks[i], Math.round(recall[i] * 10000) / 10000.0);
            if (version != null) o.put("embeddings_version", version);
            if (index != null) o.put("index", index);
            o.put("seconds", Math.round(seconds * 100) / 100.0);
            return o;
        }
    }

    /** recall@k from ranked lists (at least max(ks) long, or as long as the KB). */
    public static Report score(List<QaExample> questions, List<List<ScoredPassage>> ranked, int[] ks) {
        int[] sorted = ks.clone();
        Arrays.sort(sorted);
        long[] hits = new long[sorted.length];
        for (int q = 0; q < questions.size(); q++) {
            int first = firstHit(ranked.get(q), questions.get(q).answers());
            for (int i = 0; i < sorted.length; i++) if (first >= 0 && first < sorted[i]) hits[i]++;
        }
        double[] recall = new double[sorted.length];
        for (int i = 0; i < sorted.length; i++)
            recall[i] = questions.isEmpty() ? 0 : (double) hits[i] / questions.size();
        return new Report(questions.size(), sorted, recall, null, null, 0);
    }

    /** Encodes the questions (query prefix), retrieves max(ks) passages each, and scores them. */
    public static Report run(
            Retriever retriever,
            EncoderModel questionEncoder,
            List<QaExample> questions,
            int[] ks,
            int batch,
            int maxLen,
            PrintStream progress) {
        return run(retriever, null, questionEncoder, questions, ks, batch, maxLen, progress);
    }

    /** As above; {@code indexType} only labels the report. */
    public static Report run(
            Retriever retriever,
            String indexType,
            EncoderModel questionEncoder,
            List<QaExample> questions,
            int[] ks,
            int batch,
            int maxLen,
            PrintStream progress) {
        long t0 = System.nanoTime();
        int kmax = Arrays.stream(ks).max().orElse(1);
        List<String> texts = new ArrayList<>(questions.size());
        for (QaExample q : questions) texts.add(q.question());
        RateProgress p = new RateProgress("questions", "questions", texts.size(), progress);
        float[][] vecs =
                questionEncoder.encodeIds(questionEncoder.tokenize(texts, true, maxLen), batch, (d, t) -> p.update(d));
        p.finish(texts.size());
        List<List<ScoredPassage>> ranked = new ArrayList<>(questions.size());
        java.util.Set<String> versions = new java.util.LinkedHashSet<>();
        for (int start = 0; start < vecs.length; start += 256) {
            try (Retriever.Snapshot snap = retriever.acquire()) {
                versions.add(snap.version()); // more than one only if a new version was published meanwhile
                Retriever.Hits hits =
                        snap.search(Arrays.copyOfRange(vecs, start, Math.min(vecs.length, start + 256)), kmax);
                for (int q = 0; q < hits.ids().length; q++) {
                    List<ScoredPassage> row = new ArrayList<>(hits.ids()[q].length);
                    for (int j = 0; j < hits.ids()[q].length; j++) {
                        Retriever.Passage rp = snap.passage(hits.ids()[q][j]);
                        row.add(new ScoredPassage(new Passage(rp.id(), rp.title(), rp.text()), hits.scores()[q][j]));
                    }
                    ranked.add(row);
                }
            }
        }
        Report s = score(questions, ranked, ks);
        return new Report(
                s.questions(),
                s.ks(),
                s.recall(),
                String.join(",", versions),
                indexType,
                (System.nanoTime() - t0) / 1e9);
    }
}
