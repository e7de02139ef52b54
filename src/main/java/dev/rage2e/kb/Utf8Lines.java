package dev.rage2e.kb;

import dev.rage2e.util.UserException;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a text file line by line with strict UTF-8 decoding, so that a bad byte sequence is reported
 * with the number of the line that holds it (a {@code Reader} decodes ahead and loses that). Strips a
 * leading BOM and the {@code \r} of CRLF endings.
 */
final class Utf8Lines implements Closeable {
    /** Longer lines are refused rather than buffered: real passages are far shorter, garbage is not. */
    static final int MAX_LINE_BYTES = 2 << 20;

    private final Path file;
    private final InputStream in;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
    private long lineNumber;
    private boolean eof;

    Utf8Lines(Path file) throws IOException {
        this.file = file;
        this.in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    }

    Path file() {
        return file;
    }

    /** Number of the line last returned by {@link #next} (1-based). */
    long lineNumber() {
        return lineNumber;
    }

    /** The next line without its terminator, or null at end of file. */
    String next() throws IOException {
        if (eof) return null;
        buf.reset();
        int b;
        boolean nul = false;
        while ((b = in.read()) != -1 && b != '\n') {
            if (buf.size() >= MAX_LINE_BYTES)
                throw UserException.at(
                        file,
                        lineNumber + 1,
                        "line longer than " + (MAX_LINE_BYTES >> 20)
                                + " MiB (not a text file, or missing line breaks?)");
            if (b == 0) nul = true;
            buf.write(b);
        }
        if (b == -1) {
            eof = true;
            if (buf.size() == 0) return null;
        }
        lineNumber++;
        if (nul) throw UserException.at(file, lineNumber, "NUL byte in a line (binary data, or a UTF-16 file?)");
        byte[] bytes = buf.toByteArray();
        int start = 0;
        int end = bytes.length;
        if (lineNumber == 1
                && end >= 3
                && (bytes[0] & 0xff) == 0xEF
                && (bytes[1] & 0xff) == 0xBB
                && (bytes[2] & 0xff) == 0xBF) start = 3;
        if (end > start && bytes[end - 1] == '\r') end--;
        try {
            CharBuffer cb = decoder.reset().decode(ByteBuffer.wrap(bytes, start, end - start));
            return cb.toString();
        } catch (CharacterCodingException e) {
            throw UserException.at(file, lineNumber, "invalid UTF-8 byte sequence (the file must be UTF-8)");
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
