package dev.rage2e.kb;

import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * CSV / TSV documents with a header row naming a {@code title} and a {@code text} column (others,
 * such as {@code id}, are ignored). Fields may be quoted RFC-4180 style: {@code "a ""b"", c"}, and a
 * quoted field may span lines. A quote inside an unquoted field is kept literally.
 */
final class DelimitedReader {
    private DelimitedReader() {}

    static void read(Path file, char delimiter, Consumer<Document> sink) throws IOException {
        try (Utf8Lines lines = new Utf8Lines(file)) {
            List<String> header = record(lines, delimiter);
            if (header == null)
                throw UserException.at(file, 1, "empty file (expected a header row with title and text columns)");
            int title = -1;
            int text = -1;
            for (int i = 0; i < header.size(); i++) {
                String h = header.get(i).trim().toLowerCase(Locale.ROOT);
                if (h.equals("title")) title = i;
                if (h.equals("text")) text = i;
            }
            if (title < 0 || text < 0) {
                throw UserException.at(
                        file, 1, "header must name the columns 'title' and 'text' (found " + header + ")");
            }
            while (true) {
                long line = lines.lineNumber() + 1;
                List<String> row = record(lines, delimiter);
                if (row == null) break;
                if (row.size() == 1 && row.get(0).isEmpty()) continue; // blank line
                if (row.size() != header.size()) {
                    throw UserException.at(
                            file,
                            line,
                            "expected " + header.size() + " fields like the header, "
                                    + "found " + row.size()
                                    + (delimiter == '\t'
                                            ? " (fields are separated by tabs)"
                                            : " (quote fields that contain commas)"));
                }
                String t = row.get(text);
                if (Chunker.words(t).isEmpty()) throw UserException.at(file, line, "empty text");
                sink.accept(new Document(row.get(title).strip(), t, file.toString(), line));
            }
        }
    }

    /** The fields of the next record (which may span lines inside quotes), or null at end of file. */
    static List<String> record(Utf8Lines lines, char delimiter) throws IOException {
        String s = lines.next();
        if (s == null) return null;
        long startLine = lines.lineNumber();
        List<String> fields = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        int i = 0;
        while (true) {
            // at the start of a field
            if (i < s.length() && s.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i >= s.length()) {
                        String more = lines.next();
                        if (more == null) throw UserException.at(lines.file(), startLine, "unterminated quoted field");
                        f.append('\n');
                        s = more;
                        i = 0;
                        continue;
                    }
                    char c = s.charAt(i++);
                    if (c == '"') {
                        if (i < s.length() && s.charAt(i) == '"') {
                            f.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        f.append(c);
                    }
                }
                if (i < s.length() && s.charAt(i) != delimiter) {
                    throw UserException.at(
                            lines.file(),
                            lines.lineNumber(),
                            "unexpected character '" + s.charAt(i)
                                    + "' after a closing quote (double a quote inside a quoted field: \"\")");
                }
            } else {
                while (i < s.length() && s.charAt(i) != delimiter) f.append(s.charAt(i++));
            }
            fields.add(f.toString());
            f.setLength(0);
            if (i >= s.length()) return fields;
            i++; // the delimiter
        }
    }
}
