package dev.rage2e.rag;

import java.util.List;

/**
 * A question with its gold answers (the first is the training target) and, where the data has one, its gold
 * passage (the KB-style passage of its SQuAD paragraph that holds the answer; null otherwise), for reader-only
 * training and gold-passage evaluation.
 */
public record RagExample(String id, String question, List<String> answers, Retriever.Passage gold) {
    public RagExample {
        if (question == null || question.isBlank())
            throw new IllegalArgumentException("empty question" + (id == null ? "" : " (id " + id + ")"));
        if (answers == null || answers.isEmpty())
            throw new IllegalArgumentException("question " + id + " has no answers");
    }

    public RagExample(String id, String question, List<String> answers) {
        this(id, question, answers, null);
    }

    public String target() {
        return answers.get(0);
    }
}
