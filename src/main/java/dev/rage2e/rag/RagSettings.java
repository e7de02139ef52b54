package dev.rage2e.rag;

/**
 * Shape of the RAG computation. {@code end2end} re-embeds retrieved passages with the trainable
 * context encoder so gradients reach it; {@code rerank > nDocs} over-retrieves from the (stale) index
 * and rescores with the current context encoder before keeping the top {@code nDocs} (Atlas-style).
 * {@code docScoreScale} multiplies q·d before p(z|x) = softmax: L2-normalised encoders give q·d in [-1, 1], where
 * the softmax over a handful of passages is nearly uniform and the retriever's gradient through it weak.
 */
public record RagSettings(
        RagLoss.Kind kind,
        int nDocs,
        int maxQuestionLength,
        int maxCombinedLength,
        int maxTargetLength,
        float labelSmoothing,
        boolean excludeBosScore,
        boolean end2end,
        int rerank,
        float docScoreScale) {

    /** As the canonical constructor with doc scores unscaled (q·d as is, as HF RAG). */
    public RagSettings(
            RagLoss.Kind kind,
            int nDocs,
            int maxQuestionLength,
            int maxCombinedLength,
            int maxTargetLength,
            float labelSmoothing,
            boolean excludeBosScore,
            boolean end2end,
            int rerank) {
        this(
                kind,
                nDocs,
                maxQuestionLength,
                maxCombinedLength,
                maxTargetLength,
                labelSmoothing,
                excludeBosScore,
                end2end,
                rerank,
                1f);
    }

    /** These settings reading {@code n} passages. */
    public RagSettings withNDocs(int n) {
        return new RagSettings(
                kind,
                n,
                maxQuestionLength,
                maxCombinedLength,
                maxTargetLength,
                labelSmoothing,
                excludeBosScore,
                end2end,
                rerank,
                docScoreScale);
    }

    /** For answering with a trained model: doc scores from the stored embeddings, nothing re-embedded or re-ranked. */
    public RagSettings forServing() {
        return new RagSettings(
                kind,
                nDocs,
                maxQuestionLength,
                maxCombinedLength,
                maxTargetLength,
                labelSmoothing,
                excludeBosScore,
                false,
                0,
                docScoreScale);
    }

    public RagSettings {
        if (nDocs < 1) throw new IllegalArgumentException("n-docs must be >= 1, got " + nDocs);
        if (maxCombinedLength < 8)
            throw new IllegalArgumentException("max-combined-length must be >= 8, got " + maxCombinedLength);
        if (maxTargetLength < 2)
            throw new IllegalArgumentException("max-target-length must be >= 2, got " + maxTargetLength);
        if (maxQuestionLength < 4)
            throw new IllegalArgumentException("max-question-length must be >= 4, got " + maxQuestionLength);
        if (labelSmoothing < 0 || labelSmoothing >= 1)
            throw new IllegalArgumentException("label-smoothing must be in [0,1), got " + labelSmoothing);
        if (!(docScoreScale > 0) || Float.isInfinite(docScoreScale))
            throw new IllegalArgumentException("doc-score-scale must be > 0, got " + docScoreScale);
        if (rerank != 0 && rerank < nDocs)
            throw new IllegalArgumentException("rerank K must be 0 (off) or >= n-docs, got " + rerank);
    }

    /** HF RagConfig's separators: "title / text // question". */
    public static final String TITLE_SEP = " / ";

    public static final String DOC_SEP = " // ";
}
