package dev.rage2e.kb;

import dev.rage2e.util.UserException;
import java.nio.file.Path;
import java.util.Locale;

/** Knowledge-base input formats, chosen by file extension. */
public enum InputFormat {
    TSV,
    CSV,
    JSONL,
    SQUAD;

    public static InputFormat of(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".tsv")) return TSV;
        if (name.endsWith(".csv")) return CSV;
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) return JSONL;
        if (name.endsWith(".json")) return SQUAD;
        throw new UserException(file + ": unknown input format (expected .tsv, .csv with a title,text header, "
                + ".jsonl with title and text fields, or SQuAD .json)");
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
