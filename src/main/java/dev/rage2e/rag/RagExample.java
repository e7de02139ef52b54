package dev.rage2e.rag;

import java.util.List;

/** A question with its gold answers (the first is the training target). */
public record RagExample(String id, String question, List<String> answers) {
    public RagExample {
        if (question == null || question.isBlank()) throw new IllegalArgumentException("empty question" + (id == null ? "" : " (id " + id + ")"));
        if (answers == null || answers.isEmpty()) throw new IllegalArgumentException("question " + id + " has no answers");
    }

    public String target() {
        return answers.get(0);
    }
}
