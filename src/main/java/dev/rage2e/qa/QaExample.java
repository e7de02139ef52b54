package dev.rage2e.qa;

import java.util.List;

/**
 * One question with its gold answers; {@code title} is the SQuAD article (underscores kept), or "";
 * {@code context} is the paragraph the question was asked about (null when the source has none).
 */
public record QaExample(String id, String question, List<String> answers, String title, String context) {
    public QaExample {
        answers = List.copyOf(answers);
    }

    public QaExample(String id, String question, List<String> answers, String title) {
        this(id, question, answers, title, null);
    }
}
