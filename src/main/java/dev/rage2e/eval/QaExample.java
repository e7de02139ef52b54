package dev.rage2e.eval;

import java.util.List;

/** One question with its gold answers; {@code title} is the SQuAD article (underscores kept), or "". */
public record QaExample(String id, String question, List<String> answers, String title) {
    public QaExample {
        answers = List.copyOf(answers);
    }
}
