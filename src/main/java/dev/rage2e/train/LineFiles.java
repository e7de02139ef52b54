package dev.rage2e.train;

import dev.rage2e.rag.RagExample;
import dev.rage2e.util.UserException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The reference implementation's data format: {@code train.source} has one question per line and
 * {@code train.target} the answer on the same line number (here: alternatives may be tab-separated).
 */
public final class LineFiles {
    private LineFiles() {}

    public static List<RagExample> read(Path source, Path target) {
        List<String> q = lines(source);
        List<String> a = lines(target);
        if (q.size() != a.size()) {
            throw new UserException(target + ": has " + a.size() + " lines but " + source + " has " + q.size());
        }
        List<RagExample> out = new ArrayList<>(q.size());
        for (int i = 0; i < q.size(); i++) {
            if (q.get(i).isBlank()) throw UserException.at(source, i + 1, "empty question");
            List<String> answers = Arrays.stream(a.get(i).split("\t"))
                    .map(String::strip)
                    .filter(s -> !s.isEmpty())
                    .toList();
            if (answers.isEmpty()) throw UserException.at(target, i + 1, "empty answer");
            out.add(new RagExample(
                    source.getFileName() + ":" + (i + 1), q.get(i).strip(), answers));
        }
        return out;
    }

    static List<String> lines(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            StringBuilder sb = new StringBuilder(bytes.length);
            int line = 1;
            for (int start = 0; start <= bytes.length; line++) {
                int end = start;
                while (end < bytes.length && bytes[end] != '\n') end++;
                try {
                    sb.append(StandardCharsets.UTF_8
                            .newDecoder()
                            .onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT)
                            .decode(java.nio.ByteBuffer.wrap(bytes, start, end - start)));
                } catch (CharacterCodingException e) {
                    throw UserException.at(file, line, "invalid UTF-8");
                }
                if (end < bytes.length) sb.append('\n');
                start = end + 1;
            }
            String text = sb.toString();
            List<String> out = new ArrayList<>(Arrays.asList(text.split("\r?\n", -1)));
            if (!out.isEmpty() && out.get(out.size() - 1).isEmpty()) out.remove(out.size() - 1);
            return out;
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UserException(file + ": file not found");
        } catch (IOException e) {
            throw new UserException(file + ": cannot read: " + e.getMessage());
        }
    }
}
